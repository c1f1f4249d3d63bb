// The driver-level contract: what map_pages and unmap_pages must do, and which other outcomes
// a real driver may legitimately return instead.
#include <gtest/gtest.h>

#include <cerrno>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

RefPgtable table(PartialUnmap policy = PartialUnmap::kSplit) {
  return RefPgtable({K4 | M2 | G1, 48, 40, policy, false, Invalidation::kStrict});
}

TEST(RefPgtable, MapPagesArgumentErrors) {
  RefPgtable t = table();
  EXPECT_EQ(t.map_pages({0, 0, 0x3000, 1, RW}), (MapPagesResult{-EINVAL, 0})) << "not a size";
  EXPECT_EQ(t.map_pages({0, 0, 0x10000, 1, RW}), (MapPagesResult{-EINVAL, 0})) << "unsupported";
  EXPECT_EQ(t.map_pages({0, 0, K4, 0, RW}), (MapPagesResult{-EINVAL, 0})) << "pgcount 0";
  EXPECT_EQ(t.map_pages({K4, 0, M2, 1, RW}), (MapPagesResult{-EINVAL, 0})) << "misaligned";
  EXPECT_EQ(t.map_pages({uint64_t{1} << 48, 0, K4, 1, RW}), (MapPagesResult{-ERANGE, 0}));
  EXPECT_EQ(t.map_pages({0, uint64_t{1} << 40, K4, 1, RW}), (MapPagesResult{-ERANGE, 0}));
  EXPECT_EQ(t.map_pages({0, 0, K4, 1, IOMMU_NOEXEC}), (MapPagesResult{-EINVAL, 0}));
  EXPECT_TRUE(t.leaves().empty());
}

TEST(RefPgtable, MapPagesReportsWhatItMappedBeforeEexist) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({3 * K4, 0, K4, 1, RW}).ret, 0);
  EXPECT_EQ(t.map_pages({0, 0x100000, K4, 8, RW}), (MapPagesResult{-EEXIST, 3 * K4}));
  EXPECT_EQ(t.iova_to_phys(2 * K4), 0x102000u);
}

TEST(RefPgtable, MapPagesStopsAtTheOutputSpace) {
  RefPgtable t = table();
  const uint64_t top = uint64_t{1} << 40;
  EXPECT_EQ(t.map_pages({0, top - 2 * K4, K4, 4, RW}), (MapPagesResult{-ERANGE, 2 * K4}));
}

TEST(RefPgtable, MapPagesAllowedOutcomes) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  const MapPagesCall call{0, 0x100000, K4, 8, RW};  // page 4 is taken
  EXPECT_FALSE(t.check_map_pages(call, {-EEXIST, 4 * K4}));
  EXPECT_FALSE(t.check_map_pages(call, {0, 2 * K4})) << "an early stop at a table boundary";
  EXPECT_FALSE(t.check_map_pages(call, {-EEXIST, 0})) << "refusing the whole run up front";
  EXPECT_FALSE(t.check_map_pages(call, {-ENOMEM, K4}));
  EXPECT_TRUE(t.check_map_pages(call, {0, 5 * K4})) << "mapped over a live page";
  EXPECT_TRUE(t.check_map_pages(call, {0, 0})) << "no progress: the core would loop forever";
  EXPECT_TRUE(t.check_map_pages(call, {-EINVAL, 0}));
  EXPECT_TRUE(t.check_map_pages(call, {0, 0x1800})) << "not whole pages";
  EXPECT_TRUE(t.check_map_pages({0, 0, 0x3000, 1, RW}, {0, 0x3000})) << "bad pgsize accepted";
}

TEST(RefPgtable, UnmapPagesStopsAtAHoleAndReturnsZeroForOne) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0, K4, 3, RW}).ret, 0);
  EXPECT_EQ(t.unmap_pages({4 * K4, K4, 1}), 0u);
  EXPECT_EQ(t.unmap_pages({0, K4, 8}), 3 * K4);
  EXPECT_EQ(t.unmap_pages({0, 0x3000, 1}), 0u) << "invalid pgsize";
}

TEST(RefPgtable, UnmapPagesOfALargerSizeTakesAllSmallLeavesInside) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0x1000, K4, 512, RW}).ret, 0);
  EXPECT_EQ(t.unmap_pages({0, M2, 1}), M2);
  EXPECT_TRUE(t.leaves().empty());
}

TEST(RefPgtable, UnmapPagesAllowedOutcomes) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0x1000, K4, 100, RW}).ret, 0);  // 100 pages, then a hole
  const UnmapPagesCall call{0, M2, 1};
  EXPECT_EQ(t.expected_unmap_pages(call), 100 * K4);
  EXPECT_FALSE(t.check_unmap_pages(call, 100 * K4));
  EXPECT_FALSE(t.check_unmap_pages(call, M2)) << "Linux LPAE frees the whole table slot";
  EXPECT_TRUE(t.check_unmap_pages(call, 0)) << "iova 0 is mapped";
  EXPECT_TRUE(t.check_unmap_pages(call, 2 * M2)) << "more than requested";
  EXPECT_TRUE(t.check_unmap_pages({5 * M2, K4, 1}, K4)) << "claims to unmap a hole";
  EXPECT_TRUE(t.check_unmap_pages(call, ~uint64_t{0} - 21)) << "a negative errno as size_t";
}

TEST(RefPgtable, ApplyingADriverOutcomeMovesTheReference) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0x1000, K4, 100, RW}).ret, 0);
  t.apply_unmap_pages({0, M2, 1}, M2);
  EXPECT_TRUE(t.leaves().empty());
  t.apply_map_pages({0, 0, K4, 8, RW}, {0, 2 * K4});
  EXPECT_EQ(t.iova_to_phys(K4), K4);
  EXPECT_EQ(t.iova_to_phys(2 * K4), std::nullopt);
}

TEST(RefPgtable, WholePolicyCountsTheWholeLeaf) {
  RefPgtable t = table(PartialUnmap::kWhole);
  ASSERT_EQ(t.map_pages({0, 0, M2, 1, RW}).ret, 0);
  EXPECT_FALSE(t.check_unmap_pages({K4, K4, 1}, M2));
  EXPECT_TRUE(t.check_unmap_pages({K4, K4, 1}, K4)) << "split where the driver declared whole";
  EXPECT_EQ(t.unmap_pages({K4, K4, 1}), M2);
}

}  // namespace
}  // namespace iommu::ref
