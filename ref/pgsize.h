// Linux's page-size selection (drivers/iommu/iommu.c: iommu_pgsize, 6.12), one function shared
// by ref/, impl/ and proofs/ so that all three mean the same arithmetic.
#pragma once

#include <cstdint>
#include <optional>

namespace iommu {

struct PgsizeChoice {
  uint64_t pgsize = 0;  // one size from the bitmap
  uint64_t count = 0;   // how many pages of it to map or unmap from iova
  bool operator==(const PgsizeChoice&) const = default;
};

// The largest page size that fits `size` and aligns both iova and paddr, and how many of them
// to use before a larger page could start. nullopt where Linux would BUG_ON: size is zero or
// no size in the bitmap fits (inputs not aligned to the smallest page).
std::optional<PgsizeChoice> iommu_pgsize(uint64_t pgsize_bitmap, uint64_t iova, uint64_t paddr,
                                         uint64_t size);

}  // namespace iommu
