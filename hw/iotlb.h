// The IOTLB: leaf translations (and, where the hardware may, non-present results) a device
// can hit without walking, tagged by context and invalidated only by commands that cover them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "hw/invalidation.h"
#include "hw/tlb_store.h"
#include "hw/translation.h"

namespace iommu::hw {

// A cached "not present": hides any mapping made later until an invalidation covers it.
struct CachedFault {
  uint64_t iova_base = 0;
  uint64_t size = 0;
  bool operator==(const CachedFault&) const = default;
};

using IotlbEntry = std::variant<Leaf, CachedFault>;

struct IotlbConfig {
  CacheConfig cache{};
  bool cache_faults = false;  // VT-d caching mode (CAP bit 7), AMD NpCache (bit 26)
};

class Iotlb {
 public:
  explicit Iotlb(const IotlbConfig& cfg = {});

  // The entry used for iova; when stale entries overlap, the smallest span.
  std::optional<IotlbEntry> lookup(ContextId ctx, uint64_t iova) const;
  // Every entry holding iova: hardware may use any of them.
  std::vector<IotlbEntry> lookup_all(ContextId ctx, uint64_t iova) const;

  // Every entry of ctx overlapping [first, last]: what an invalidation of that range had to
  // remove.
  std::vector<IotlbEntry> entries_in(ContextId ctx, uint64_t first, uint64_t last) const;

  void insert(ContextId ctx, const Leaf& leaf);
  // Caches the fault for the granule holding iova; a no-op unless cache_faults.
  void insert_fault(ContextId ctx, uint64_t iova, uint64_t granule);

  // Applies a decoded command now; returns how many entries it removed.
  size_t invalidate(const Command& cmd);

  size_t size() const { return store_.size(); }

 private:
  IotlbConfig cfg_;
  SpanStore<IotlbEntry> store_;
};

}  // namespace iommu::hw
