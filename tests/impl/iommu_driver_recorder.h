// Test-only InvalidationSink: records the decoded commands a driver sends and keeps a shadow
// of what a device could still hold, removing an entry only when a command that really covers
// it (hw::Command::hits_leaf: context, range, TTL, VT-d whole-leaf rules) is completed by a
// sync. Whatever is left in the shadow is what the invalidations failed to cover so far.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "hw/invalidation.h"
#include "ref/config.h"
#include "ref/leaf_map.h"
#include "ref_pgtable_ops.h"

namespace iommu::impl::testing {

class RecordingSink : public hw::InvalidationSink {
 public:
  explicit RecordingSink(hw::ContextId ctx = 0) : ctx_(ctx) {}

  void issue(const hw::Command& cmd) override {
    log_.push_back(cmd);
    if (cmd.kind != hw::CommandKind::kSync) {
      pending_.push_back(cmd);
      return;
    }
    ++syncs_;
    for (const hw::Command& done : pending_) {
      std::erase_if(stale_, [&](const ref::LeafInfo& l) {
        return done.hits_leaf(ctx_, l.iova, l.pgsize);
      });
      std::erase_if(faults_, [&](const std::pair<uint64_t, uint64_t>& f) {
        return done.hits_leaf(ctx_, f.first, f.second);
      });
    }
    pending_.clear();
  }

  // A translation a device may have cached before it was removed from the table.
  void add_stale(const ref::LeafInfo& leaf) { stale_.push_back(leaf); }
  // A "not present" a device may have cached before [iova, iova + size) was mapped.
  void add_cached_fault(uint64_t iova, uint64_t size) { faults_.emplace_back(iova, size); }

  const std::vector<ref::LeafInfo>& stale() const { return stale_; }
  const std::vector<std::pair<uint64_t, uint64_t>>& cached_faults() const { return faults_; }
  const std::vector<hw::Command>& log() const { return log_; }
  size_t pending() const { return pending_.size(); }
  uint64_t syncs() const { return syncs_; }
  void clear_log() { log_.clear(); }

  // Whether a stale translation survives anywhere in [first, last].
  bool stale_in(uint64_t first, uint64_t last) const {
    for (const ref::LeafInfo& l : stale_)
      if (l.iova <= last && l.last() >= first) return true;
    return false;
  }

 private:
  hw::ContextId ctx_;
  std::vector<hw::Command> log_;
  std::vector<hw::Command> pending_;
  std::vector<ref::LeafInfo> stale_;
  std::vector<std::pair<uint64_t, uint64_t>> faults_;
  uint64_t syncs_ = 0;
};

// Feeds a RecordingSink's shadow from a RefPgtableOps: a removed leaf may stay cached until a
// covering invalidation completes, and under non-present caching every page mapped may have a
// cached fault until one does.
class SinkShadow : public PgtableObserver {
 public:
  SinkShadow(RecordingSink& sink, const ref::DomainConfig& cfg) : sink_(sink), cfg_(cfg) {}
  void removed(const ref::LeafInfo& leaf) override { sink_.add_stale(leaf); }
  void mapped(uint64_t iova, uint64_t size) override {
    if (!cfg_.np_caching) return;
    for (uint64_t off = 0; off < size; off += cfg_.min_pgsize())
      sink_.add_cached_fault(iova + off, cfg_.min_pgsize());
  }

 private:
  RecordingSink& sink_;
  const ref::DomainConfig& cfg_;
};

}  // namespace iommu::impl::testing
