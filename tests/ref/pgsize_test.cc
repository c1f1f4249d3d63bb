// iommu_pgsize against a brute force written from its definition: the largest supported page
// that fits and aligns both addresses, repeated until a larger page would fit.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "base/bits.h"
#include "ref/pgsize.h"

namespace iommu {
namespace {

std::optional<PgsizeChoice> brute_force(uint64_t bitmap, uint64_t iova, uint64_t paddr,
                                        uint64_t size) {
  auto best_at = [&](uint64_t i, uint64_t p, uint64_t left) -> uint64_t {
    uint64_t best = 0;
    for (uint64_t rest = bitmap; rest != 0; rest &= rest - 1) {
      const uint64_t s = rest & (~rest + 1);
      if (s <= left && i % s == 0 && p % s == 0) best = s;
    }
    return best;
  };
  const uint64_t pgsize = best_at(iova, paddr, size);
  if (pgsize == 0) return std::nullopt;
  uint64_t count = 1;
  while ((count + 1) * pgsize <= size) {
    const uint64_t off = count * pgsize;
    if (best_at(iova + off, paddr + off, size - off) > pgsize) break;
    ++count;
  }
  return PgsizeChoice{pgsize, count};
}

TEST(IommuPgsize, LinuxExamples) {
  const uint64_t lpae = 0x1000 | 0x200000 | 0x40000000;
  EXPECT_EQ(iommu_pgsize(lpae, 0, 0, 0x1000), (PgsizeChoice{0x1000, 1}));
  // 4 MiB at a 2 MiB aligned pair: two blocks.
  EXPECT_EQ(iommu_pgsize(lpae, 0x200000, 0x40200000, 0x400000), (PgsizeChoice{0x200000, 2}));
  // Start 4 KiB below a 2 MiB boundary: one page, then blocks become possible.
  EXPECT_EQ(iommu_pgsize(lpae, 0x1ff000, 0x401ff000, 0x401000), (PgsizeChoice{0x1000, 1}));
  // Misaligned pair modulo 2 MiB: every page is 4 KiB.
  EXPECT_EQ(iommu_pgsize(lpae, 0x1ff000, 0x40000000, 0x401000), (PgsizeChoice{0x1000, 0x401}));
  // The boundary is reached but the larger page would not fit: keep small pages to the end.
  EXPECT_EQ(iommu_pgsize(lpae, 0x1ff000, 0x1ff000, 0x1ff000), (PgsizeChoice{0x1000, 0x1ff}));
  EXPECT_EQ(iommu_pgsize(lpae, 0, 0, 0), std::nullopt);
  EXPECT_EQ(iommu_pgsize(lpae, 0x800, 0, 0x1000), std::nullopt);
}

TEST(IommuPgsize, NoOverflowAtTopOfAddressSpace) {
  const uint64_t bitmap = 0x1000 | 0x200000;
  const uint64_t iova = ~uint64_t{0} - 0x1fffff;  // the last 2 MiB of the 64-bit space
  EXPECT_EQ(iommu_pgsize(bitmap, iova, iova, 0x200000), (PgsizeChoice{0x200000, 1}));
  EXPECT_EQ(iommu_pgsize(bitmap, iova + 0x1000, iova + 0x1000, 0x1ff000),
            (PgsizeChoice{0x1000, 0x1ff}));
}

// Every bitmap of 6 page-size bits, every iova and paddr below 64 units, every size up to 64.
TEST(IommuPgsize, MatchesBruteForceExhaustively) {
  uint64_t checked = 0;
  for (uint64_t bitmap = 1; bitmap < 64; ++bitmap)
    for (uint64_t iova = 0; iova < 64; ++iova)
      for (uint64_t paddr = 0; paddr < 64; ++paddr)
        for (uint64_t size = 1; size <= 64; ++size) {
          const auto want = brute_force(bitmap, iova, paddr, size);
          const auto got = iommu_pgsize(bitmap, iova, paddr, size);
          ++checked;
          if (got != want) {
            ADD_FAILURE() << "bitmap=" << bitmap << " iova=" << iova << " paddr=" << paddr
                          << " size=" << size << " got " << (got ? got->pgsize : 0) << "x"
                          << (got ? got->count : 0) << " want " << (want ? want->pgsize : 0)
                          << "x" << (want ? want->count : 0);
            return;
          }
        }
  EXPECT_EQ(checked, 63u * 64 * 64 * 64);
}

// Sizes up to 2^12 pages over 12-bit bitmaps, in units of 4 KiB, sampled.
RC_GTEST_PROP(IommuPgsize, MatchesBruteForceUpTo4096Pages, ()) {
  const uint64_t bitmap = *rc::gen::inRange<uint64_t>(1, 1 << 12) << 12;
  const uint64_t iova = *rc::gen::inRange<uint64_t>(0, 1 << 14) << 12;
  const uint64_t paddr = *rc::gen::inRange<uint64_t>(0, 1 << 14) << 12;
  const uint64_t size = *rc::gen::inRange<uint64_t>(1, (1 << 12) + 1) << 12;
  RC_ASSERT(iommu_pgsize(bitmap, iova, paddr, size) == brute_force(bitmap, iova, paddr, size));
}

// The loop the core runs covers [iova, iova + size) exactly and always progresses.
RC_GTEST_PROP(IommuPgsize, CoreLoopCoversRangeExactly, ()) {
  const uint64_t bitmap = (*rc::gen::inRange<uint64_t>(1, 1 << 20) << 12) | 0x1000;
  const unsigned shift = *rc::gen::inRange<unsigned>(12, 40);
  const uint64_t iova = (*rc::gen::arbitrary<uint64_t>() & low_mask(48)) & ~uint64_t{0xfff};
  const uint64_t paddr = (iova & low_mask(shift)) | ((*rc::gen::arbitrary<uint64_t>() & low_mask(48)) & ~low_mask(shift));
  uint64_t size = *rc::gen::inRange<uint64_t>(1, 1 << 20) << 12;
  uint64_t i = iova, p = paddr, steps = 0;
  while (size != 0) {
    const auto c = iommu_pgsize(bitmap, i, p, size);
    RC_ASSERT(c.has_value());
    RC_ASSERT((bitmap & c->pgsize) == c->pgsize);
    RC_ASSERT(is_aligned(i | p, c->pgsize));
    RC_ASSERT(c->count >= 1);
    RC_ASSERT(c->count * c->pgsize <= size);
    i += c->count * c->pgsize;
    p += c->count * c->pgsize;
    size -= c->count * c->pgsize;
    RC_ASSERT(++steps < 200);
  }
}

}  // namespace
}  // namespace iommu
