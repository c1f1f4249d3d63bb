#include "hw/walk_cache.h"

#include <fmt/core.h>

#include <stdexcept>

#include "ref/bits.h"

namespace iommu::hw {

WalkCache::WalkCache(const CacheConfig& cfg) : store_(cfg) {}

void WalkCache::insert(ContextId ctx, unsigned level, uint64_t iova, uint64_t span,
                       uint64_t table_paddr) {
  if (!is_pow2(span)) {
    throw std::invalid_argument(
        fmt::format("walk-cache span {:#x} at level {} is not a power of two", span, level));
  }
  store_.insert(ctx, fls64_idx(span), iova & ~(span - 1), Entry{level, table_paddr});
}

std::optional<WalkHit> WalkCache::lookup_deepest(ContextId ctx, uint64_t iova) const {
  std::optional<WalkHit> hit;
  store_.visit(ctx, iova, [&](unsigned shift, uint64_t, const Entry& e) {
    hit = WalkHit{e.level, e.table_paddr, bit(shift)};
    return true;
  });
  return hit;
}

std::vector<WalkHit> WalkCache::lookup_all(ContextId ctx, uint64_t iova) const {
  std::vector<WalkHit> hits;
  store_.visit(ctx, iova, [&](unsigned shift, uint64_t, const Entry& e) {
    hits.push_back(WalkHit{e.level, e.table_paddr, bit(shift)});
    return false;
  });
  return hits;
}

size_t WalkCache::invalidate(const Command& cmd) {
  return store_.erase_if(cmd, [&](ContextId ctx, uint64_t base, uint64_t span) {
    return cmd.hits_table(ctx, base, span);
  });
}

}  // namespace iommu::hw
