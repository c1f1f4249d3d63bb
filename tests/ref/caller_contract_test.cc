#include <gtest/gtest.h>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

RefDomain domain(Invalidation inv = Invalidation::kStrict) {
  return RefDomain({K4 | M2, 39, 40, PartialUnmap::kSplit, false, inv});
}

TEST(CallerContract, MapRules) {
  RefDomain d = domain();
  EXPECT_FALSE(contract_map(d, 0, 0, K4, RW));
  EXPECT_TRUE(contract_map(d, 0, 0, 0, RW)) << "empty";
  EXPECT_TRUE(contract_map(d, 0x800, 0, K4, RW)) << "unaligned iova";
  EXPECT_TRUE(contract_map(d, 0, 0x800, K4, RW)) << "unaligned paddr";
  EXPECT_TRUE(contract_map(d, 0, 0, K4, IOMMU_CACHE)) << "no access";
  EXPECT_TRUE(contract_map(d, uint64_t{1} << 39, 0, K4, RW)) << "beyond ias";
  EXPECT_TRUE(contract_map(d, 0, (uint64_t{1} << 40) - K4, 2 * K4, RW)) << "beyond oas";
  ASSERT_EQ(d.map(M2, 0, M2, RW), 0);
  EXPECT_TRUE(contract_map(d, M2 + K4, 0, K4, RW)) << "overlap";
  EXPECT_FALSE(contract_map(d, 0, 0, M2, RW)) << "adjacent is fine";
}

TEST(CallerContract, LazyDomainMustNotReuseUnflushedIova) {
  RefDomain d = domain(Invalidation::kLazy);
  ASSERT_EQ(d.map(0, 0, K4, RW), 0);
  ASSERT_EQ(d.unmap(0, K4), K4);
  EXPECT_TRUE(contract_map(d, 0, 0x5000, K4, RW));
  d.flush_iotlb_all();
  EXPECT_FALSE(contract_map(d, 0, 0x5000, K4, RW));
}

TEST(CallerContract, UnmapRules) {
  RefDomain d = domain();
  ASSERT_EQ(d.map(0, 0, M2, RW), 0);
  ASSERT_EQ(d.map(M2, 0x1000, 4 * K4, RW), 0);
  EXPECT_FALSE(contract_unmap(d, 0, M2 + 4 * K4));
  EXPECT_FALSE(contract_unmap(d, M2 + K4, K4)) << "one small leaf of a run";
  EXPECT_TRUE(contract_unmap(d, K4, K4)) << "inside the block";
  EXPECT_TRUE(contract_unmap(d, 0, K4)) << "ends inside the block";
  EXPECT_TRUE(contract_unmap(d, M2, 8 * K4)) << "runs into a hole";
  EXPECT_TRUE(contract_unmap(d, 4 * M2, K4)) << "nothing mapped";
}

TEST(CallerContract, MapSgRules) {
  RefDomain d = domain();
  std::vector<Segment> ok{{0x10000, K4}, {0x11000, K4}, {0x50000, K4}};
  EXPECT_FALSE(contract_map_sg(d, 0, ok, RW));
  std::vector<Segment> empty{{0x10000, K4}, {0x11000, 0}};
  EXPECT_TRUE(contract_map_sg(d, 0, empty, RW));
  EXPECT_TRUE(contract_map_sg(d, 0, {}, RW));
}

}  // namespace
}  // namespace iommu::ref
