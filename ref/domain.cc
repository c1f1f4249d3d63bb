#include "ref/domain.h"

#include <cerrno>

#include "base/bits.h"
#include "ref/pgsize.h"

namespace iommu::ref {

RefDomain::RefDomain(const DomainConfig& cfg) : pgtable_(cfg) {}

int RefDomain::map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  if (!is_aligned(iova | paddr | size, config().min_pgsize())) return -EINVAL;
  const uint64_t orig_iova = iova, orig_size = size;
  int ret = 0;
  while (size != 0) {
    const PgsizeChoice c = *iommu_pgsize(config().pgsize_bitmap, iova, paddr, size);
    const MapPagesResult r = call_map_pages({iova, paddr, c.pgsize, c.count, prot});
    size -= r.mapped;
    ret = r.ret;
    if (ret != 0) break;
    iova += r.mapped;
    paddr += r.mapped;
  }
  if (ret != 0) {
    unmap_into(orig_iova, orig_size - size, kSynced);
    return ret;
  }
  if (config().np_caching && orig_size != 0) pending_.add(orig_iova, orig_iova + (orig_size - 1));
  return 0;
}

// Invalidation is page granular: every page the range touches is published.
void RefDomain::iotlb_sync_map(uint64_t iova, uint64_t size) {
  if (size == 0) return;
  const uint64_t page_mask = config().min_pgsize() - 1;
  pending_.subtract(iova & ~page_mask, (iova + (size - 1)) | page_mask);
}

int RefDomain::map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  const int ret = map_nosync(iova, paddr, size, prot);
  if (ret == 0) iotlb_sync_map(iova, size);
  return ret;
}

int64_t RefDomain::map_sg(uint64_t iova, std::span<const Segment> segments, int prot) {
  uint64_t mapped = 0;
  auto fail = [&](int err) {
    unmap_into(iova, mapped, kSynced);
    return int64_t{err};
  };
  for (size_t i = 0; i < segments.size();) {
    if (segments[i].length == 0) return fail(-EINVAL);
    const uint64_t start = segments[i].paddr;
    uint64_t len = 0;
    while (i < segments.size() && segments[i].length != 0 && segments[i].paddr == start + len)
      len += segments[i++].length;
    if (int ret = map_nosync(iova + mapped, start, len, prot)) return fail(ret);
    mapped += len;
  }
  iotlb_sync_map(iova, mapped);
  return static_cast<int64_t>(mapped);
}

uint64_t RefDomain::unmap_into(uint64_t iova, uint64_t size, GatherId gather) {
  if (!is_aligned(iova | size, config().min_pgsize())) return 0;
  std::vector<LeafRun> removed;
  uint64_t unmapped = 0;
  while (unmapped < size) {
    const PgsizeChoice c = *iommu_pgsize(config().pgsize_bitmap, iova, iova, size - unmapped);
    const uint64_t n = call_unmap_pages({iova, c.pgsize, c.count}, &removed);
    if (n == 0) break;
    iova += n;
    unmapped += n;
  }
  retire(removed, gather);
  return unmapped;
}

void RefDomain::retire(const std::vector<LeafRun>& removed, GatherId gather) {
  for (const LeafRun& r : removed) {
    pending_.subtract(r.iova, r.last());
    if (gather != kSynced) stale_.add(r.iova, r.last(), r.paddr, r.prot, gather);
  }
}

MapPagesResult RefDomain::map_pages(const MapPagesCall& call) {
  const MapPagesResult r = call_map_pages(call);
  if (config().np_caching && r.mapped != 0) pending_.add(call.iova, call.iova + (r.mapped - 1));
  return r;
}

uint64_t RefDomain::unmap_pages(const UnmapPagesCall& call, GatherId gather) {
  std::vector<LeafRun> removed;
  const uint64_t n = call_unmap_pages(call, &removed);
  retire(removed, gather);
  return n;
}

void RefDomain::follow(std::vector<DriverChoice> choices) {
  choices_.assign(choices.rbegin(), choices.rend());
}

template <class Choice, class Call>
std::optional<Choice> RefDomain::take_choice(const Call& call) {
  if (choices_.empty()) return std::nullopt;
  const Choice* c = std::get_if<Choice>(&choices_.back());
  if (!c || !(c->call == call)) {
    choices_.clear();
    return std::nullopt;
  }
  const Choice chosen = *c;
  choices_.pop_back();
  return chosen;
}

MapPagesResult RefDomain::call_map_pages(const MapPagesCall& call) {
  const auto c = take_choice<MapPagesChoice>(call);
  if (!c || pgtable_.check_map_pages(call, c->outcome)) return pgtable_.map_pages(call);
  pgtable_.apply_map_pages(call, c->outcome);
  return c->outcome;
}

uint64_t RefDomain::call_unmap_pages(const UnmapPagesCall& call, std::vector<LeafRun>* removed) {
  const auto c = take_choice<UnmapPagesChoice>(call);
  if (!c || pgtable_.check_unmap_pages(call, c->unmapped, c->alloc_failed)) {
    return pgtable_.unmap_pages(call, removed);
  }
  pgtable_.apply_unmap_pages(call, c->unmapped, removed);
  return c->unmapped;
}

uint64_t RefDomain::unmap(uint64_t iova, uint64_t size) {
  const bool lazy = config().invalidation == Invalidation::kLazy;
  return unmap_into(iova, size, lazy ? kFlushQueue : kSynced);
}

uint64_t RefDomain::unmap_fast(uint64_t iova, uint64_t size, GatherId gather) {
  return unmap_into(iova, size, gather);
}

DeviceView RefDomain::device_view(uint64_t iova) const {
  DeviceView view;
  if (const auto leaf = pgtable_.leaves().leaf_at(iova)) {
    view.current = Observation{leaf->paddr + (iova - leaf->iova), leaf->prot};
    view.may_fault = pending_.contains(iova);
  }
  stale_.observe(iova, view.stale);
  return view;
}

}  // namespace iommu::ref
