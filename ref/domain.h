// The core API as a caller sees it (drivers/iommu/iommu.c): map, unmap, map_sg and
// iova_to_phys with Linux results, run as the Linux core loop over the reference driver, plus
// what a device may observe at any point.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/segment.h"
#include "ref/config.h"
#include "ref/device_view.h"
#include "ref/pgtable.h"

namespace iommu::ref {

// One scatterlist entry: physically contiguous bytes (base/segment.h).
using iommu::Segment;

class RefDomain {
 public:
  explicit RefDomain(const DomainConfig& cfg);

  const DomainConfig& config() const { return pgtable_.config(); }
  const RefPgtable& pgtable() const { return pgtable_; }
  const StaleSet& stale() const { return stale_; }

  // iommu_map: 0 or -EINVAL/-ERANGE/-EEXIST; a failed map leaves nothing behind.
  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  // iommu_map_nosync: as map, but under non-present caching the mapping may still fault until
  // iotlb_sync_map covers it.
  int map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  void iotlb_sync_map(uint64_t iova, uint64_t size);

  // iommu_map_sg: bytes mapped or a negative errno; contiguous segments are merged first.
  int64_t map_sg(uint64_t iova, std::span<const Segment> segments, int prot);

  // iommu_unmap: bytes unmapped (0 for unaligned input; stops at a hole; may exceed size under
  // PartialUnmap::kWhole). Strict: invisible on return. Lazy: stale until flush_iotlb_all.
  uint64_t unmap(uint64_t iova, uint64_t size);
  // iommu_unmap_fast: stale until iotlb_sync(gather).
  uint64_t unmap_fast(uint64_t iova, uint64_t size, GatherId gather);
  GatherId new_gather() { return next_gather_++; }
  void iotlb_sync(GatherId gather) { stale_.complete(gather); }
  void flush_iotlb_all() { stale_.clear(); }

  // iommu_iova_to_phys: 0 when unmapped, as Linux reports it.
  uint64_t iova_to_phys(uint64_t iova) const { return pgtable_.iova_to_phys(iova).value_or(0); }

  // Driver-level calls a campaign makes directly (io_pgtable_ops without the core loop). A
  // mapping is pending under non-present caching as with map_nosync; removed leaves stay
  // visible until `gather` is synced, or not at all with kSynced.
  MapPagesResult map_pages(const MapPagesCall& call);
  uint64_t unmap_pages(const UnmapPagesCall& call, GatherId gather);
  static constexpr GatherId kSynced = ~GatherId{0};

  DeviceView device_view(uint64_t iova) const;

  // The next op's driver calls are answered as a driver under test answered them, in order,
  // as long as the reference makes the same calls and the contract allows each answer; from
  // the first call that differs on, the reference answers for itself. A driver may take one
  // of several allowed outcomes (an early stop at a table's end, a whole table slot
  // unmapped), and what follows is judged from the state that outcome left.
  void follow(std::vector<DriverChoice> choices);

 private:
  MapPagesResult call_map_pages(const MapPagesCall& call);
  uint64_t call_unmap_pages(const UnmapPagesCall& call, std::vector<LeafRun>* removed);
  // The driver's choice for `call` when it is the next one and allowed.
  template <class Choice, class Call>
  std::optional<Choice> take_choice(const Call& call);

  uint64_t unmap_into(uint64_t iova, uint64_t size, GatherId gather);
  void retire(const std::vector<LeafRun>& removed, GatherId gather);

  RefPgtable pgtable_;
  std::vector<DriverChoice> choices_;  // oldest last, so taking one is a pop_back
  IntervalSet pending_;  // mapped, not yet published to hardware that caches non-present
  StaleSet stale_;
  GatherId next_gather_ = kFlushQueue + 1;
};

}  // namespace iommu::ref
