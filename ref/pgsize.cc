#include "ref/pgsize.h"

#include "base/bits.h"

namespace iommu {

std::optional<PgsizeChoice> iommu_pgsize(uint64_t pgsize_bitmap, uint64_t iova, uint64_t paddr,
                                         uint64_t size) {
  if (size == 0) return std::nullopt;
  const uint64_t addr_merge = iova | paddr;

  uint64_t pgsizes = pgsize_bitmap & genmask(fls64_idx(size), 0);
  if (addr_merge != 0) pgsizes &= genmask(ffs64_idx(addr_merge), 0);
  if (pgsizes == 0) return std::nullopt;

  const unsigned pgsize_idx = fls64_idx(pgsizes);
  const uint64_t pgsize = bit(pgsize_idx);

  // Stop where a larger page could start, so the caller's next step can use it.
  const uint64_t larger = pgsize_bitmap & ~genmask(pgsize_idx, 0);
  if (larger != 0) {
    const uint64_t pgsize_next = bit(ffs64_idx(larger));
    if (((iova ^ paddr) & (pgsize_next - 1)) == 0) {
      const uint64_t offset = pgsize_next - (addr_merge & (pgsize_next - 1));
      uint64_t offset_end = 0;
      if (!__builtin_add_overflow(offset, pgsize_next, &offset_end) && offset_end <= size)
        size = offset;
    }
  }
  return PgsizeChoice{pgsize, size >> pgsize_idx};
}

}  // namespace iommu
