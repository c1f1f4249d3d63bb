// The walk cache: intermediate table descriptors, so a walk can start below the root. Kept by
// leaf-only invalidations (SMMUv3 Leaf=1, VT-d IH=1, AMD PDE=0), which is how a driver that
// frees a table but flushes only leaves lets a device walk freed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "hw/invalidation.h"
#include "hw/tlb_store.h"
#include "hw/translation.h"

namespace iommu::hw {

struct WalkHit {
  unsigned level = 0;        // level of the cached table descriptor, the format's numbering
  uint64_t table_paddr = 0;  // the next-level table it points to
  uint64_t span = 0;         // bytes of iova space that descriptor translates
  unsigned next_level = 0;   // the level of that table: level + 1 unless AMD skips levels
  Perms limit = kNoLimit;    // what the descriptors down to it leave a leaf to grant
  bool operator==(const WalkHit&) const = default;
};

class WalkCache {
 public:
  explicit WalkCache(const CacheConfig& cfg = {});

  // The descriptor `hit` for the hit.span-sized, span-aligned block holding iova.
  void insert(ContextId ctx, uint64_t iova, const WalkHit& hit);

  // The cached descriptor closest to the leaves for iova: the walk resumes in its table.
  std::optional<WalkHit> lookup_deepest(ContextId ctx, uint64_t iova) const;
  // Every cached descriptor for iova, deepest first: hardware may resume from any of them.
  std::vector<WalkHit> lookup_all(ContextId ctx, uint64_t iova) const;

  // Every cached descriptor of ctx whose span overlaps [first, last], with the span's base.
  std::vector<std::pair<uint64_t, WalkHit>> entries_in(ContextId ctx, uint64_t first,
                                                       uint64_t last) const;

  // Applies a decoded command now; returns how many entries it removed.
  size_t invalidate(const Command& cmd);

  size_t size() const { return store_.size(); }

 private:
  struct Entry {
    unsigned level;
    uint64_t table_paddr;
    unsigned next_level;
    Perms limit;
  };
  SpanStore<Entry> store_;
};

}  // namespace iommu::hw
