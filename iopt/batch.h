// A batch of PFNs as runs (pfn, npfns): struct pfn_batch. Adding a PFN that continues the
// last run only lengthens it, so a batch's cost is its runs, not its pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "iopt/user_memory.h"

namespace iommu::iopt {

class PfnBatch {
 public:
  explicit PfnBatch(size_t max_runs) : max_runs_(max_runs ? max_runs : 1) {}

  // False when `pfn` needs a new run and the batch already holds max_runs.
  bool add(uint64_t pfn) {
    if (!runs_.empty() && runs_.back().pfn + runs_.back().npfns == pfn) {
      ++runs_.back().npfns;
    } else {
      if (runs_.size() == max_runs_) return false;
      runs_.push_back({pfn, 1});
    }
    ++npfns_;
    return true;
  }
  void clear() {
    runs_.clear();
    npfns_ = 0;
  }
  const std::vector<PfnRun>& runs() const { return runs_; }
  uint64_t npfns() const { return npfns_; }

 private:
  size_t max_runs_;
  std::vector<PfnRun> runs_;
  uint64_t npfns_ = 0;
};

}  // namespace iommu::iopt
