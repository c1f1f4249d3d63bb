#include "impl/gather.h"

namespace iommu::impl {

void iotlb_gather_init(IotlbGather& gather) { gather = IotlbGather{}; }

bool iotlb_gather_is_disjoint(const IotlbGather& gather, uint64_t iova, uint64_t size) {
  const uint64_t end = iova + size - 1;
  return gather.end != 0 && (end + 1 < gather.start || iova > gather.end + 1);
}

void iotlb_gather_add_range(IotlbGather& gather, uint64_t iova, uint64_t size) {
  const uint64_t end = iova + size - 1;
  if (gather.start > iova) gather.start = iova;
  if (gather.end < end) gather.end = end;
}

}  // namespace iommu::impl
