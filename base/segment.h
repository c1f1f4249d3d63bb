// One scatterlist entry as iommu_map_sg's caller hands it over (struct scatterlist: sg_phys,
// length): data only, so that ref/ and impl/ take the same argument and each merges it its
// own way.
#pragma once

#include <cstdint>

namespace iommu {

struct Segment {
  uint64_t paddr = 0;   // sg_phys(sg)
  uint64_t length = 0;  // sg->length, in bytes
};

}  // namespace iommu
