// The core API's examples: every error path, every partial-unmap policy, map_sg, and what a
// device may observe under strict, lazy, gathered and non-present-caching invalidation.
#include <gtest/gtest.h>

#include <cerrno>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

DomainConfig lpae(PartialUnmap policy = PartialUnmap::kSplit) {
  return {K4 | M2 | G1, 48, 48, policy, false, Invalidation::kStrict};
}

TEST(RefDomain, MapTranslatesEveryByte) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0x200000, 0x80200000, 0x400000, RW), 0);
  EXPECT_EQ(d.iova_to_phys(0x200000), 0x80200000u);
  EXPECT_EQ(d.iova_to_phys(0x5fffff), 0x805fffffu);
  EXPECT_EQ(d.iova_to_phys(0x600000), 0u);
  EXPECT_EQ(d.pgtable().leaves().leaf_at(0x300000)->pgsize, M2);
}

TEST(RefDomain, OneGigabyteIsOneEntryWhateverItsPageSize) {
  RefDomain blocks(lpae()), pages(lpae());
  ASSERT_EQ(blocks.map(0, 0, G1, RW), 0);
  ASSERT_EQ(pages.map(0, K4, G1, RW), 0);  // paddr only 4K aligned: 262144 pages
  EXPECT_EQ(blocks.pgtable().leaves().run_count(), 1u);
  EXPECT_EQ(pages.pgtable().leaves().run_count(), 1u);
  EXPECT_EQ(pages.pgtable().leaves().leaf_at(0x12345678)->pgsize, K4);
}

TEST(RefDomain, MapErrors) {
  RefDomain d(lpae());
  EXPECT_EQ(d.map(0x800, 0, K4, RW), -EINVAL) << "unaligned iova";
  EXPECT_EQ(d.map(0, 0x800, K4, RW), -EINVAL) << "unaligned paddr";
  EXPECT_EQ(d.map(0, 0, 0x1800, RW), -EINVAL) << "unaligned size";
  EXPECT_EQ(d.map(0, 0, K4, IOMMU_CACHE), -EINVAL) << "neither read nor write";
  EXPECT_EQ(d.map(uint64_t{1} << 48, 0, K4, RW), -ERANGE) << "iova beyond ias";
  EXPECT_EQ(d.map(0, uint64_t{1} << 48, K4, RW), -ERANGE) << "paddr beyond oas";
  EXPECT_EQ(d.map(0, 0, 0, RW), 0) << "an empty map succeeds and maps nothing";
  EXPECT_TRUE(d.pgtable().leaves().empty());
}

TEST(RefDomain, FailedMapLeavesNothingBehind) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0x10000, 0x10000, K4, RW), 0);
  // Maps 0..0x10000 page by page, then meets the existing page: everything is undone.
  EXPECT_EQ(d.map(0, 0x90000000, 0x20000, RW), -EEXIST);
  EXPECT_EQ(d.iova_to_phys(0), 0u);
  EXPECT_EQ(d.iova_to_phys(0x10000), 0x10000u);
  EXPECT_EQ(d.pgtable().leaves().run_count(), 1u);
  // The tail crosses the top of the ias: -ERANGE, nothing left.
  const uint64_t top = uint64_t{1} << 48;
  EXPECT_EQ(d.map(top - 2 * K4, 0, 4 * K4, RW), -ERANGE);
  EXPECT_EQ(d.iova_to_phys(top - 2 * K4), 0u);
}

TEST(RefDomain, MapOverALargerLeafIsEexist) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0, 0, M2, RW), 0);
  EXPECT_EQ(d.map(0x1000, 0x1000, K4, RW), -EEXIST);
  EXPECT_EQ(d.map(M2 - K4, 0x5000, 2 * K4, RW), -EEXIST);
  EXPECT_EQ(d.iova_to_phys(M2), 0u);
}

TEST(RefDomain, UnmapUnalignedReturnsZero) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0, 0, M2, RW), 0);
  EXPECT_EQ(d.unmap(0x800, K4), 0u);
  EXPECT_EQ(d.unmap(0, 0x800), 0u);
  EXPECT_EQ(d.unmap(0, 0), 0u);
  EXPECT_EQ(d.iova_to_phys(0), 0u + 0);
  EXPECT_TRUE(d.pgtable().leaves().leaf_at(0).has_value());
}

TEST(RefDomain, UnmapStopsAtTheFirstHole) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0, 0, 4 * K4, RW), 0);
  ASSERT_EQ(d.map(5 * K4, 5 * K4, K4, RW), 0);
  EXPECT_EQ(d.unmap(0, 6 * K4), 4 * K4);
  EXPECT_EQ(d.iova_to_phys(5 * K4), 5 * K4) << "beyond the hole stays mapped";
  EXPECT_EQ(d.unmap(0, K4), 0u) << "unmapping a hole unmaps nothing";
}

TEST(RefDomain, PartialUnmapSplitRemovesExactlyTheRequest) {
  RefDomain d(lpae(PartialUnmap::kSplit));
  ASSERT_EQ(d.map(0, 0x40000000, M2, RW), 0);
  EXPECT_EQ(d.unmap(0x3000, K4), K4);
  EXPECT_EQ(d.iova_to_phys(0x3000), 0u);
  EXPECT_EQ(d.iova_to_phys(0x2fff), 0x40002fffu);
  EXPECT_EQ(d.iova_to_phys(0x4000), 0x40004000u);
  EXPECT_EQ(d.pgtable().leaves().leaf_at(0x4000)->pgsize, K4);
}

TEST(RefDomain, PartialUnmapSplitOfAGigabyteKeepsLargestLeaves) {
  RefDomain d(lpae(PartialUnmap::kSplit));
  ASSERT_EQ(d.map(0, 0, G1, RW), 0);
  EXPECT_EQ(d.unmap(0, K4), K4);
  EXPECT_EQ(d.pgtable().leaves().leaf_at(K4)->pgsize, K4);
  EXPECT_EQ(d.pgtable().leaves().leaf_at(M2)->pgsize, M2);
  EXPECT_EQ(d.pgtable().leaves().leaf_at(G1 - 1)->pgsize, M2);
}

TEST(RefDomain, PartialUnmapRefuseChangesNothing) {
  RefDomain d(lpae(PartialUnmap::kRefuse));
  ASSERT_EQ(d.map(0, 0, M2, RW), 0);
  EXPECT_EQ(d.unmap(0x3000, K4), 0u);
  EXPECT_EQ(d.unmap(0, K4), 0u);
  EXPECT_EQ(d.iova_to_phys(0x3000), 0x3000u);
  // Whole leaves before the partial one are still unmapped.
  ASSERT_EQ(d.map(M2, 0x600000, K4, RW), 0);
  EXPECT_EQ(d.unmap(M2, 2 * K4), K4);
}

TEST(RefDomain, PartialUnmapWholeTakesTheLeafAndMayExceedTheRequest) {
  RefDomain d(lpae(PartialUnmap::kWhole));
  ASSERT_EQ(d.map(0, 0, M2, RW), 0);
  ASSERT_EQ(d.map(M2, M2, M2, RW), 0);
  EXPECT_EQ(d.unmap(0x3000, K4), M2);
  EXPECT_EQ(d.iova_to_phys(0), 0u);
  EXPECT_EQ(d.iova_to_phys(M2), M2) << "the next leaf is not touched";
}

TEST(RefDomain, MapSgMergesContiguousSegmentsIntoLargeLeaves) {
  RefDomain d(lpae());
  std::vector<Segment> segs{{0x80000000, 0x100000}, {0x80100000, 0x100000}, {0x90000000, K4}};
  EXPECT_EQ(d.map_sg(0x400000, segs, RW), int64_t{M2 + K4});
  EXPECT_EQ(d.pgtable().leaves().leaf_at(0x400000)->pgsize, M2) << "two halves became a block";
  EXPECT_EQ(d.iova_to_phys(0x600000), 0x90000000u);
}

TEST(RefDomain, MapSgFailureUnmapsEverything) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0x2000, 0, K4, RW), 0);
  std::vector<Segment> segs{{0x80000000, K4}, {0x90000000, K4}};
  EXPECT_EQ(d.map_sg(0x1000, segs, RW), -EEXIST);
  EXPECT_EQ(d.iova_to_phys(0x1000), 0u);
  std::vector<Segment> empty_seg{{0x80000000, K4}, {0x80001000, 0}};
  EXPECT_EQ(d.map_sg(0x10000, empty_seg, RW), -EINVAL);
  EXPECT_EQ(d.iova_to_phys(0x10000), 0u);
}

TEST(RefDomain, StrictUnmapLeavesNothingObservable) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0, 0x5000, K4, IOMMU_READ), 0);
  const DeviceView mapped = d.device_view(0x10);
  EXPECT_FALSE(mapped.may_fault);
  EXPECT_TRUE(mapped.allows_translation(0x5010, {}));
  EXPECT_FALSE(mapped.allows_translation(0x5010, {.write = true})) << "read-only";
  EXPECT_TRUE(mapped.allows_fault({.write = true}));
  EXPECT_FALSE(mapped.allows_fault({}));
  d.unmap(0, K4);
  const DeviceView gone = d.device_view(0x10);
  EXPECT_TRUE(gone.may_fault);
  EXPECT_FALSE(gone.allows_translation(0x5010, {}));
}

TEST(RefDomain, LazyUnmapStaysObservableUntilFlushAll) {
  DomainConfig cfg = lpae();
  cfg.invalidation = Invalidation::kLazy;
  RefDomain d(cfg);
  ASSERT_EQ(d.map(0, 0x5000, K4, RW), 0);
  ASSERT_EQ(d.unmap(0, K4), K4);
  EXPECT_TRUE(d.device_view(0).allows_translation(0x5000, {.write = true}));
  EXPECT_TRUE(d.device_view(0).allows_fault({}));
  d.flush_iotlb_all();
  EXPECT_FALSE(d.device_view(0).allows_translation(0x5000, {}));
}

TEST(RefDomain, GatheredUnmapIsStaleUntilItsOwnSync) {
  RefDomain d(lpae());
  ASSERT_EQ(d.map(0, 0x5000, 2 * K4, RW), 0);
  const GatherId a = d.new_gather(), b = d.new_gather();
  d.unmap_fast(0, K4, a);
  d.unmap_fast(K4, K4, b);
  d.iotlb_sync(b);
  EXPECT_TRUE(d.device_view(0).allows_translation(0x5000, {}));
  EXPECT_FALSE(d.device_view(K4).allows_translation(0x6000, {}));
  d.iotlb_sync(a);
  EXPECT_FALSE(d.device_view(0).allows_translation(0x5000, {}));
}

TEST(RefDomain, NonPresentCachingMayFaultUntilSyncMap) {
  DomainConfig cfg = lpae();
  cfg.np_caching = true;
  RefDomain d(cfg);
  ASSERT_EQ(d.map_nosync(0, 0x5000, 2 * K4, RW), 0);
  EXPECT_TRUE(d.device_view(0).allows_fault({}));
  EXPECT_TRUE(d.device_view(0).allows_translation(0x5000, {}));
  d.iotlb_sync_map(0, K4);
  EXPECT_FALSE(d.device_view(0).allows_fault({}));
  EXPECT_TRUE(d.device_view(K4).allows_fault({}));
  ASSERT_EQ(d.map(M2, M2, K4, RW), 0);
  EXPECT_FALSE(d.device_view(M2).allows_fault({})) << "map() syncs itself";
}

TEST(RefDomain, PermissionsNeverExceedProt) {
  EXPECT_FALSE(prot_permits(IOMMU_READ | IOMMU_NOEXEC, {.exec = true}));
  EXPECT_TRUE(prot_permits(IOMMU_READ, {.exec = true}));
  EXPECT_FALSE(prot_permits(IOMMU_READ | IOMMU_PRIV, {}));
  EXPECT_TRUE(prot_permits(IOMMU_READ | IOMMU_PRIV, {.priv = true}));
  EXPECT_FALSE(prot_permits(IOMMU_WRITE, {})) << "write-only grants no read";
}

TEST(DomainConfig, RejectsWhatNoDriverCanDeclare) {
  EXPECT_THROW(RefDomain({0, 48, 48}), ConfigError);
  EXPECT_THROW(RefDomain({K4, 8, 48}), ConfigError);
  EXPECT_THROW(RefDomain({K4, 48, 65}), ConfigError);
  EXPECT_THROW(RefDomain({G1, 24, 48}), ConfigError);
  EXPECT_EQ(describe(lpae()), "pgsizes=4K|2M|1G ias=48 oas=48 partial=split np_caching=off strict");
}

}  // namespace
}  // namespace iommu::ref
