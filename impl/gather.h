// The gather rules of include/linux/iommu.h: how leaf invalidations queued by unmap_pages are
// merged into one range, and when the range must be issued first because the next page cannot
// join it (iommu_iotlb_gather_add_page). Drivers call these from tlb_add_page.
#pragma once

#include <cstdint>

#include "impl/io_pgtable.h"
#include "impl/mutant.h"

namespace iommu::impl {

// iommu_iotlb_gather_init: empty (start ULONG_MAX, end 0, pgsize 0, not queued).
void iotlb_gather_init(IotlbGather& gather);

// iommu_iotlb_gather_is_disjoint: the gather holds something (end != 0) and [iova, iova+size)
// neither overlaps nor touches it. Adjacent pages at either end are not disjoint. The
// arithmetic wraps exactly as Linux's unsigned long does.
bool iotlb_gather_is_disjoint(const IotlbGather& gather, uint64_t iova, uint64_t size);

// iommu_iotlb_gather_add_range: widen [start, end] to include [iova, iova+size).
void iotlb_gather_add_range(IotlbGather& gather, uint64_t iova, uint64_t size);

// iommu_iotlb_gather_add_page: a page of a different size, or one disjoint from the gathered
// range, cannot be described by one range invalidation, so `sync` issues what is gathered
// (iommu_iotlb_sync) and the gather starts over; then the page is added. `sync` receives the
// gather and is followed by iotlb_gather_init, whatever it does to it. `bug` is the calling
// driver's seeded bug (impl/mutant.h): kGatherDropsDisjoint forgets, unsynced, what a disjoint
// page displaces; every other value is Linux's rule.
template <class Sync>
void iotlb_gather_add_page(IotlbGather& gather, uint64_t iova, uint64_t size, Sync&& sync,
                           Mutant bug = Mutant::kNone) {
  if ((gather.pgsize != 0 && gather.pgsize != size) ||
      iotlb_gather_is_disjoint(gather, iova, size)) {
    if (bug != Mutant::kGatherDropsDisjoint || !iotlb_gather_is_disjoint(gather, iova, size)) {
      sync(gather);
    }
    iotlb_gather_init(gather);
  }
  gather.pgsize = size;
  iotlb_gather_add_range(gather, iova, size);
}

// amd_iommu_iotlb_gather_add_page (amd/iommu.c): an AMD range invalidation has no page-size
// hint, so pages of any size merge; disjoint pages merge too (one wide flush beats several)
// except under NpCache, where a VM's hypervisor pays for every page a flush covers. pgsize is
// kept as the last page's size only so that the gather does not read as empty.
template <class Sync>
void amd_iotlb_gather_add_page(IotlbGather& gather, uint64_t iova, uint64_t size, bool np_cache,
                               Sync&& sync) {
  if (np_cache && iotlb_gather_is_disjoint(gather, iova, size)) {
    sync(gather);
    iotlb_gather_init(gather);
  }
  gather.pgsize = size;
  iotlb_gather_add_range(gather, iova, size);
}

}  // namespace iommu::impl
