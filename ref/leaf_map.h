// The translations a page table holds, stored as runs of equal leaves: mapping 1 GiB is one
// entry whatever its page size, and lookups cost O(log runs).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace iommu::ref {

// `count` leaves of `pgsize` bytes: iova..iova+count*pgsize -> paddr..., all with `prot`.
struct LeafRun {
  uint64_t iova = 0;
  uint64_t paddr = 0;
  uint64_t pgsize = 0;
  uint64_t count = 0;
  int prot = 0;

  uint64_t size() const { return pgsize * count; }
  uint64_t last() const { return iova + (size() - 1); }  // inclusive: a run may end at 2^64
  bool operator==(const LeafRun&) const = default;
};

// One leaf: what a walker would find for an address.
struct LeafInfo {
  uint64_t iova = 0;  // start of the leaf
  uint64_t paddr = 0;
  uint64_t pgsize = 0;
  int prot = 0;

  uint64_t last() const { return iova + (pgsize - 1); }
  bool operator==(const LeafInfo&) const = default;
};

class LeafMap {
 public:
  // pgsize_bitmap: the sizes a split may re-express a cut leaf with.
  explicit LeafMap(uint64_t pgsize_bitmap) : pgsize_bitmap_(pgsize_bitmap) {}

  // The leaf containing iova, if any.
  std::optional<LeafInfo> leaf_at(uint64_t iova) const;

  // Whether any leaf intersects [first, last].
  bool intersects(uint64_t first, uint64_t last) const;

  // Adds a run; the caller guarantees it overlaps nothing.
  void insert(const LeafRun& run);

  // Removes every translation inside [first, last]. A leaf cut by either end keeps its outside
  // part, re-expressed as the largest smaller leaves that fit (as a split writes them).
  void erase(uint64_t first, uint64_t last);

  // The runs intersecting [first, last], whole, in iova order.
  std::vector<LeafRun> runs_in(uint64_t first, uint64_t last) const;

  size_t run_count() const { return runs_.size(); }
  bool empty() const { return runs_.empty(); }
  const std::map<uint64_t, LeafRun>& runs() const { return runs_; }

 private:
  std::map<uint64_t, LeafRun>::const_iterator run_containing(uint64_t iova) const;
  void erase_from_run(const LeafRun& run, uint64_t first, uint64_t last);
  void insert_split(uint64_t iova, uint64_t paddr, uint64_t size, uint64_t below, int prot);

  uint64_t pgsize_bitmap_;
  std::map<uint64_t, LeafRun> runs_;  // keyed by run start
};

}  // namespace iommu::ref
