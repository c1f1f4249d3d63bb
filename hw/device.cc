#include "hw/device.h"

#include <stdexcept>

namespace iommu::hw {
namespace {

AccessResult from_leaf(Source source, const Leaf& leaf, const Access& access) {
  return AccessResult{.source = source, .leaf = leaf, .fault = check_access(leaf, access)};
}

AccessResult from_cached(const IotlbEntry& entry, const Access& access) {
  if (const Leaf* leaf = std::get_if<Leaf>(&entry)) return from_leaf(Source::kIotlb, *leaf, access);
  AccessResult r{.source = Source::kIotlb};
  r.fault = Fault{.reason = FaultReason::kTranslation};
  return r;
}

}  // namespace

std::string_view source_name(Source s) {
  switch (s) {
    case Source::kIotlb: return "iotlb";
    case Source::kWalkCache: return "walk-cache";
    case Source::kWalk: return "walk";
  }
  throw std::logic_error("unhandled Source");
}

Device::Device(const TableMemory& mem, const Format& fmt, DeviceConfig cfg)
    : mem_(mem),
      fmt_(fmt),
      cfg_(cfg),
      iotlb_(cfg.iotlb),
      walk_cache_(cfg.walk_cache),
      queue_(iotlb_, walk_cache_) {}

void Device::set_roots(std::span<const uint64_t> roots) { roots_.assign(roots.begin(), roots.end()); }

WalkResult Device::walk_root(uint64_t iova) const { return walk(mem_, fmt_, roots_, iova); }

AccessResult Device::finish(Source source, const WalkResult& w, const Access& access) const {
  if (const Leaf* leaf = w.leaf()) return from_leaf(source, *leaf, access);
  AccessResult r{.source = source};
  r.fault = *w.fault();
  return r;
}

// Hardware caches what it read: every table descriptor on the way, the leaf, and (where it may
// cache non-present entries) a translation fault. A walk into freed memory caches nothing.
void Device::fill(uint64_t iova, const WalkResult& w) {
  for (const TableStep& step : w.path.used()) {
    walk_cache_.insert(cfg_.ctx, iova,
                       {.level = step.level,
                        .table_paddr = step.table_paddr,
                        .span = fmt_.geo().table_span(step.next_level),
                        .next_level = step.next_level,
                        .limit = step.limit});
  }
  if (const Leaf* leaf = w.leaf()) {
    iotlb_.insert(cfg_.ctx, *leaf);
  } else if (w.fault()->reason == FaultReason::kTranslation) {
    iotlb_.insert_fault(cfg_.ctx, iova, fmt_.geo().granule);
  }
}

AccessResult Device::translate(uint64_t iova, const Access& access) {
  if (auto entry = iotlb_.lookup(cfg_.ctx, iova)) return from_cached(*entry, access);
  Source source = Source::kWalk;
  WalkResult w;
  if (auto hit = walk_cache_.lookup_deepest(cfg_.ctx, iova)) {
    source = Source::kWalkCache;
    w = walk_from(mem_, fmt_, {hit->next_level, hit->table_paddr, hit->limit}, iova);
  } else {
    w = walk_root(iova);
  }
  fill(iova, w);
  return finish(source, w, access);
}

std::vector<AccessResult> Device::possible(uint64_t iova, const Access& access) const {
  std::vector<AccessResult> out;
  for (const IotlbEntry& entry : iotlb_.lookup_all(cfg_.ctx, iova)) {
    out.push_back(from_cached(entry, access));
  }
  for (const WalkHit& hit : walk_cache_.lookup_all(cfg_.ctx, iova)) {
    out.push_back(finish(Source::kWalkCache,
                         walk_from(mem_, fmt_, {hit.next_level, hit.table_paddr, hit.limit}, iova),
                         access));
  }
  out.push_back(finish(Source::kWalk, walk_root(iova), access));
  return out;
}

}  // namespace iommu::hw
