// Table memory over time: bounded when cycling map/unmap through a large iova space with empty
// tables freed, growing without; nothing left at teardown.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

// Maps and unmaps one 4K page at a time, each in a new 2M region (a new leaf table) and every
// 512th in a new 1G region; returns the peak of live table bytes.
uint64_t cycle(bool free_empty, uint64_t ops) {
  hw::TableMemory mem;
  CountingFlush flush;
  Pgtable pt({{"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kSplit, free_empty}, mem, flush);
  uint64_t peak = 0;
  IotlbGather gather;
  for (uint64_t i = 0; i < ops; i++) {
    const uint64_t iova = (i * (M2 + K4)) % (uint64_t{1} << 48);
    EXPECT_EQ(pt.map_pages(iova, 0x1000000, K4, 1, RW, nullptr), 0);
    peak = std::max(peak, mem.live_bytes());
    EXPECT_EQ(pt.unmap_pages(iova, K4, 1, &gather), K4);
  }
  if (free_empty) {
    EXPECT_EQ(tables_in_use(pt, mem).size(), 1u) << "only the root holds entries";
    EXPECT_EQ(mem.live_bytes(), 4 * K4) << "the last emptied leaf table and its parents";
  }
  return peak;
}

TEST(PgtableMemory, BoundedWhenEmptyTablesAreFreed) {
  const uint64_t ops = 20000;  // 40 GiB of iova, 39 1G regions
  // Root, level 1, the level-2 and leaf tables in use and the kept leaf table of the region
  // before, whose level-2 parent may be another one.
  EXPECT_LE(cycle(true, ops), 6 * K4);
  EXPECT_GE(cycle(false, ops), ops * K4) << "one leaf table per 2M region stays";
}

TEST(PgtableMemory, TeardownFreesEveryTable) {
  hw::TableMemory mem;
  CountingFlush flush;
  {
    Pgtable pt({{"arm-64-lpae-s1-4k"}}, mem, flush);
    ASSERT_EQ(pt.map_pages(G1 - 8 * K4, 0, K4, 2000, RW, nullptr), 0);
    ASSERT_EQ(pt.map_pages(4 * G1, 0, M2, 600, RW, nullptr), 0);
    EXPECT_GT(mem.live_allocations().size(), 6u);
  }
  EXPECT_TRUE(mem.live_allocations().empty());
  EXPECT_EQ(mem.live_bytes(), 0u);
}

}  // namespace
}  // namespace iommu::impl::testing
