// The uint64_t instance of proofs/pgsize_model.h against ref's iommu_pgsize: exhaustively on a
// 5-bit universe, then on random 64-bit inputs. A change to either that the other does not
// make fails here, so the proofs keep describing the code.
#include <gtest/gtest.h>

#include <random>

#include "base/bits.h"
#include "proofs/pgsize_model.h"
#include "ref/pgsize.h"

namespace iommu::proofs {
namespace {

void expect_same(uint64_t bitmap, uint64_t iova, uint64_t paddr, uint64_t size) {
  const auto real = iommu_pgsize(bitmap, iova, paddr, size);
  const PgsizeModel<uint64_t> m = pgsize_model(bitmap, iova, paddr, size);
  ASSERT_EQ(real.has_value(), m.defined)
      << std::hex << "bitmap " << bitmap << " iova " << iova << " paddr " << paddr << " size " << size;
  if (!real) return;
  ASSERT_EQ(real->pgsize, m.pgsize) << std::hex << bitmap << " " << iova << " " << paddr << " " << size;
  ASSERT_EQ(real->count, m.count) << std::hex << bitmap << " " << iova << " " << paddr << " " << size;
  ASSERT_EQ(uint64_t{1} << m.shift, m.pgsize);
  ASSERT_EQ(m.count << m.shift, m.bytes) << "the proofs' bytes is count * pgsize";
}

TEST(PgsizeCorrespondence, ExhaustiveOnFiveBits) {
  for (uint64_t bitmap = 1; bitmap < 32; bitmap++)
    for (uint64_t iova = 0; iova < 32; iova++)
      for (uint64_t paddr = 0; paddr < 32; paddr++)
        for (uint64_t size = 0; size < 32; size++) expect_same(bitmap, iova, paddr, size);
}

TEST(PgsizeCorrespondence, Random64Bit) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 200000; i++) {
    const uint64_t bitmap = rng() & rng();
    if (bitmap == 0) continue;
    // Mostly inputs aligned to the smallest page (what the core passes), some not.
    const uint64_t keep = i % 4 ? ~((bitmap & -bitmap) - 1) : ~uint64_t{0};
    const uint64_t iova = rng() >> (rng() % 64) & keep, paddr = rng() >> (rng() % 64) & keep;
    const uint64_t size = rng() >> (rng() % 64) & keep;
    expect_same(bitmap, iova, paddr, size);
    expect_same(bitmap, iova, iova, size);
  }
}

TEST(PgsizeCorrespondence, MaskHelpersMatchBitIndices) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; i++) {
    const uint64_t x = rng() >> (rng() % 64);
    if (x == 0) continue;
    ASSERT_EQ(fill_down(x), genmask(fls64_idx(x), 0));
    ASSERT_EQ(through_lowest(x), genmask(ffs64_idx(x), 0));
    ASSERT_EQ(lowest_bit(x), bit(ffs64_idx(x)));
    ASSERT_EQ(log2_pow2(bit(i % 64)), static_cast<uint64_t>(i % 64));
  }
}

}  // namespace
}  // namespace iommu::proofs
