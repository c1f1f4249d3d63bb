#include "hw/iotlb.h"

#include <fmt/core.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

unsigned span_shift(uint64_t size, const char* what) {
  if (!is_pow2(size)) {
    throw std::invalid_argument(
        fmt::format("IOTLB {} size {:#x} is not a power of two", what, size));
  }
  return fls64_idx(size);
}

}  // namespace

Iotlb::Iotlb(const IotlbConfig& cfg) : cfg_(cfg), store_(cfg.cache) {}

std::optional<IotlbEntry> Iotlb::lookup(ContextId ctx, uint64_t iova) const {
  std::optional<IotlbEntry> hit;
  store_.visit(ctx, iova, [&](unsigned, uint64_t, const IotlbEntry& e) {
    hit = e;
    return true;
  });
  return hit;
}

std::vector<IotlbEntry> Iotlb::lookup_all(ContextId ctx, uint64_t iova) const {
  std::vector<IotlbEntry> hits;
  store_.visit(ctx, iova, [&](unsigned, uint64_t, const IotlbEntry& e) {
    hits.push_back(e);
    return false;
  });
  return hits;
}

std::vector<IotlbEntry> Iotlb::entries_in(ContextId ctx, uint64_t first, uint64_t last) const {
  std::vector<IotlbEntry> out;
  store_.visit_range(ctx, first, last,
                     [&](unsigned, uint64_t, const IotlbEntry& e) { out.push_back(e); });
  return out;
}

void Iotlb::insert(ContextId ctx, const Leaf& leaf) {
  store_.insert(ctx, span_shift(leaf.size, "leaf"), leaf.iova_base, leaf);
}

void Iotlb::insert_fault(ContextId ctx, uint64_t iova, uint64_t granule) {
  if (!cfg_.cache_faults) return;
  uint64_t base = iova & ~(granule - 1);
  store_.insert(ctx, span_shift(granule, "fault granule"), base, CachedFault{base, granule});
}

size_t Iotlb::invalidate(const Command& cmd) {
  return store_.erase_if(cmd, [&](ContextId ctx, uint64_t base, uint64_t size) {
    return cmd.hits_leaf(ctx, base, size);
  });
}

}  // namespace iommu::hw
