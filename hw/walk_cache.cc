#include "hw/walk_cache.h"

#include <fmt/core.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {

WalkCache::WalkCache(const CacheConfig& cfg) : store_(cfg) {}

namespace {

WalkHit hit_of(unsigned shift, const auto& e) {
  return WalkHit{e.level, e.table_paddr, bit(shift), e.next_level, e.limit};
}

}  // namespace

void WalkCache::insert(ContextId ctx, uint64_t iova, const WalkHit& hit) {
  if (!is_pow2(hit.span)) {
    throw std::invalid_argument(fmt::format(
        "walk-cache span {:#x} at level {} is not a power of two", hit.span, hit.level));
  }
  store_.insert(ctx, fls64_idx(hit.span), iova & ~(hit.span - 1),
                Entry{hit.level, hit.table_paddr, hit.next_level, hit.limit});
}

std::optional<WalkHit> WalkCache::lookup_deepest(ContextId ctx, uint64_t iova) const {
  std::optional<WalkHit> hit;
  store_.visit(ctx, iova, [&](unsigned shift, uint64_t, const Entry& e) {
    hit = hit_of(shift, e);
    return true;
  });
  return hit;
}

std::vector<WalkHit> WalkCache::lookup_all(ContextId ctx, uint64_t iova) const {
  std::vector<WalkHit> hits;
  store_.visit(ctx, iova, [&](unsigned shift, uint64_t, const Entry& e) {
    hits.push_back(hit_of(shift, e));
    return false;
  });
  return hits;
}

std::vector<std::pair<uint64_t, WalkHit>> WalkCache::entries_in(ContextId ctx, uint64_t first,
                                                                uint64_t last) const {
  std::vector<std::pair<uint64_t, WalkHit>> out;
  store_.visit_range(ctx, first, last, [&](unsigned shift, uint64_t base, const Entry& e) {
    out.emplace_back(base, hit_of(shift, e));
  });
  return out;
}

size_t WalkCache::invalidate(const Command& cmd) {
  return store_.erase_if(cmd, [&](ContextId ctx, uint64_t base, uint64_t span) {
    return cmd.hits_table(ctx, base, span);
  });
}

}  // namespace iommu::hw
