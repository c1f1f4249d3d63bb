#include <gtest/gtest.h>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

RefDomain domain(Invalidation inv = Invalidation::kStrict,
                 PartialUnmap policy = PartialUnmap::kSplit) {
  return RefDomain({K4 | M2, 39, 40, policy, false, inv});
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

// A 2M block at 0, then four 4K pages, then a hole.
RefDomain block_then_pages(PartialUnmap policy) {
  RefDomain d = domain(Invalidation::kStrict, policy);
  EXPECT_EQ(d.map(0, 0, M2, RW), 0);
  EXPECT_EQ(d.map(M2, 0x1000, 4 * K4, RW), 0);
  return d;
}

TEST(CallerContract, UnmapRules) {
  for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kRefuse, PartialUnmap::kWhole}) {
    SCOPED_TRACE(partial_unmap_name(policy));
    const RefDomain d = block_then_pages(policy);
    EXPECT_FALSE(contract_unmap(d, 0, M2 + 4 * K4));
    EXPECT_FALSE(contract_unmap(d, M2 + K4, K4)) << "one small leaf of a run";
    EXPECT_TRUE(contract_unmap(d, M2, 8 * K4)) << "runs into a hole";
    EXPECT_TRUE(contract_unmap(d, 4 * M2, K4)) << "nothing mapped";
    EXPECT_TRUE(contract_unmap(d, 0, 0)) << "empty";
  }
}

// Where an unmap may cut a leaf is what the driver's policy promises.
TEST(CallerContract, CutsFollowThePolicy) {
  const RefDomain split = block_then_pages(PartialUnmap::kSplit);
  EXPECT_FALSE(contract_unmap(split, K4, K4)) << "inside the block: the driver splits";
  EXPECT_FALSE(contract_unmap(split, 0, K4)) << "ends inside the block";
  EXPECT_FALSE(contract_unmap(split, M2 - K4, 2 * K4)) << "starts inside the block";
  const RefDomain whole = block_then_pages(PartialUnmap::kWhole);
  EXPECT_TRUE(contract_unmap(whole, K4, K4)) << "starts inside the block";
  EXPECT_FALSE(contract_unmap(whole, 0, K4)) << "from the block's start to inside it";
  const RefDomain refuse = block_then_pages(PartialUnmap::kRefuse);
  EXPECT_TRUE(contract_unmap(refuse, K4, K4));
  EXPECT_TRUE(contract_unmap(refuse, 0, K4));
}

TEST(CallerContract, DriverLevelCalls) {
  const RefDomain d = block_then_pages(PartialUnmap::kRefuse);
  EXPECT_FALSE(contract_map_pages(d, {4 * M2, 0x200000, M2, 2, RW}));
  EXPECT_TRUE(contract_map_pages(d, {4 * M2, 0x1000, M2, 1, RW})) << "paddr not 2M aligned";
  EXPECT_TRUE(contract_map_pages(d, {4 * M2, 0, 0x3000, 1, RW})) << "not a page size";
  EXPECT_TRUE(contract_map_pages(d, {4 * M2, 0, K4, 0, RW})) << "pgcount 0";
  EXPECT_TRUE(contract_map_pages(d, {4 * M2, 0, M2, uint64_t{1} << 60, RW})) << "overflow";
  EXPECT_TRUE(contract_map_pages(d, {M2, 0, K4, 1, RW})) << "overlap";
  EXPECT_FALSE(contract_unmap_pages(d, {M2, K4, 4}));
  EXPECT_FALSE(contract_unmap_pages(d, {0, M2, 1}));
  EXPECT_TRUE(contract_unmap_pages(d, {M2, K4, 5})) << "runs into a hole";
  EXPECT_TRUE(contract_unmap_pages(d, {M2 + K4, M2, 1})) << "not aligned to pgsize";
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
