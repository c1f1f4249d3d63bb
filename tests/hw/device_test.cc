// Device accesses end to end: what a device sees through the IOTLB, the walk cache and the
// walker when a driver changes tables with and without the invalidations they need.
#include "hw/device.h"

#include <gtest/gtest.h>

#include <memory>

#include "base/prot.h"
#include "hw/invalidation_encode.h"

namespace iommu::hw {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr ContextId kAsid = 5;
constexpr Access kRead{};
constexpr Access kWrite{.write = true};

// LPAE 4K stage 1 with one page: iova 0x40201000 -> 0x9000'0000 (level 0 -> 1 -> 2 -> 3).
struct DeviceTest : ::testing::Test {
  TableMemory mem;
  Format fmt = make_format({.name = "arm-64-lpae-s1-4k"});
  uint64_t pgd = *mem.alloc(k4K), l1 = *mem.alloc(k4K), l2 = *mem.alloc(k4K),
           l3 = *mem.alloc(k4K);
  static constexpr uint64_t kIova = 0x40201000;
  static constexpr uint64_t kPaddr = 0x90000000;

  void SetUp() override {
    mem.write64(pgd, fmt.make_table(l1));
    mem.write64(l1 + 1 * 8, fmt.make_table(l2));
    mem.write64(l2 + 1 * 8, fmt.make_table(l3));
    mem.write64(l3 + 1 * 8, fmt.make_leaf(kPaddr, k4K, IOMMU_READ));
  }

  std::unique_ptr<Device> device(DeviceConfig cfg = {.ctx = kAsid}) {
    auto d = std::make_unique<Device>(mem, fmt, cfg);
    d->set_roots(std::span<const uint64_t>(&pgd, 1));
    return d;
  }

  // What arm_smmu_tlb_inv_range_asid sends, completed by a CMD_SYNC.
  static void invalidate(Device& d, uint64_t iova, uint64_t size, bool leaf) {
    for (const SmmuCmd& c :
         smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .asid = kAsid, .leaf = leaf}, iova, size, k4K,
                           {})) {
      d.invalidation().issue(smmu_decode(c));
    }
    d.invalidation().issue(Command::sync());
  }
};

TEST_F(DeviceTest, MissWalksThenHitsTheIotlb) {
  auto owner = device();
  Device& d = *owner;
  AccessResult first = d.translate(kIova + 0x123, kRead);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.source, Source::kWalk);
  EXPECT_EQ(first.paddr(kIova + 0x123), kPaddr + 0x123);
  EXPECT_EQ(d.walk_cache().size(), 3u);
  AccessResult second = d.translate(kIova, kRead);
  EXPECT_EQ(second.source, Source::kIotlb);
  EXPECT_TRUE(second.ok());
}

TEST_F(DeviceTest, PermissionIsCheckedOnTheCachedLeafToo) {
  auto owner = device();
  Device& d = *owner;
  EXPECT_EQ(d.translate(kIova, kWrite).fault->reason, FaultReason::kPermission);
  AccessResult again = d.translate(kIova, kWrite);
  EXPECT_EQ(again.source, Source::kIotlb);
  EXPECT_EQ(again.fault->reason, FaultReason::kPermission);
}

TEST_F(DeviceTest, StaleLeafIsUsedUntilAnInvalidationCompletes) {
  auto owner = device();
  Device& d = *owner;
  ASSERT_TRUE(d.translate(kIova, kRead).ok());
  mem.write64(l3 + 1 * 8, 0);  // unmapped, not yet invalidated
  EXPECT_TRUE(d.translate(kIova, kRead).ok());
  d.invalidation().issue(Command::by_range(kAsid, {kIova, kIova + k4K - 1}, true));
  EXPECT_TRUE(d.translate(kIova, kRead).ok()) << "a command without a sync completes nothing";
  d.invalidation().issue(Command::sync());
  EXPECT_EQ(d.translate(kIova, kRead).fault->reason, FaultReason::kTranslation);
}

TEST_F(DeviceTest, OtherContextsInvalidationsDoNotHelp) {
  auto owner = device();
  Device& d = *owner;
  ASSERT_TRUE(d.translate(kIova, kRead).ok());
  mem.write64(l3 + 1 * 8, 0);
  d.invalidation().issue(Command::context(kAsid + 1));
  d.invalidation().issue(Command::sync());
  EXPECT_TRUE(d.translate(kIova, kRead).ok());
}

// The bug class of a driver that frees a table but flushes only leaves: the walk cache still
// points at the freed level-3 table and the device walks freed memory.
TEST_F(DeviceTest, LeafOnlyFlushOfAFreedTableLetsTheDeviceWalkFreedMemory) {
  auto owner = device();
  Device& d = *owner;
  ASSERT_TRUE(d.translate(kIova, kRead).ok());
  mem.write64(l2 + 1 * 8, 0);
  mem.free(l3);
  invalidate(d, kIova & ~(k2M - 1), k2M, /*leaf=*/true);
  EXPECT_EQ(d.walk_cache().size(), 3u);
  AccessResult r = d.translate(kIova, kRead);
  EXPECT_EQ(r.source, Source::kWalkCache);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.fault->reason, FaultReason::kBadTable);
  EXPECT_EQ(r.fault->desc_paddr, l3 + 1 * 8);
}

TEST_F(DeviceTest, WalkFlushOfAFreedTableIsSafe) {
  auto owner = device();
  Device& d = *owner;
  ASSERT_TRUE(d.translate(kIova, kRead).ok());
  mem.write64(l2 + 1 * 8, 0);
  mem.free(l3);
  invalidate(d, kIova & ~(k2M - 1), k2M, /*leaf=*/false);
  AccessResult r = d.translate(kIova, kRead);
  EXPECT_EQ(r.fault->reason, FaultReason::kTranslation);
  EXPECT_EQ(r.fault->level, 2u);
  for (const AccessResult& p : d.possible(kIova, kRead)) {
    EXPECT_NE(p.fault->reason, FaultReason::kBadTable) << source_name(p.source);
  }
}

TEST_F(DeviceTest, CachedNonPresentHidesANewMappingUntilInvalidated) {
  auto owner = device({.ctx = kAsid, .iotlb = {.cache_faults = true}});
  Device& d = *owner;
  const uint64_t iova = kIova + k4K;
  EXPECT_EQ(d.translate(iova, kRead).fault->reason, FaultReason::kTranslation);
  mem.write64(l3 + 2 * 8, fmt.make_leaf(kPaddr + k4K, k4K, IOMMU_READ));  // map, no flush
  AccessResult hidden = d.translate(iova, kRead);
  EXPECT_EQ(hidden.source, Source::kIotlb);
  EXPECT_EQ(hidden.fault->reason, FaultReason::kTranslation);
  invalidate(d, iova, k4K, /*leaf=*/true);  // iotlb_sync_map under caching mode
  AccessResult seen = d.translate(iova, kRead);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen.paddr(iova), kPaddr + k4K);
}

TEST_F(DeviceTest, WithoutNonPresentCachingANewMappingIsSeenAtOnce) {
  auto owner = device();
  Device& d = *owner;
  const uint64_t iova = kIova + k4K;
  EXPECT_FALSE(d.translate(iova, kRead).ok());
  mem.write64(l3 + 2 * 8, fmt.make_leaf(kPaddr + k4K, k4K, IOMMU_READ));
  EXPECT_TRUE(d.translate(iova, kRead).ok());
}

// A 2M block replaced by a table of pages without a flush: both translations are possible.
TEST_F(DeviceTest, PossibleListsEveryCachedAlternative) {
  const uint64_t block_iova = 0x40400000;
  mem.write64(l2 + 2 * 8, fmt.make_leaf(0xa0000000, k2M, IOMMU_READ | IOMMU_WRITE));
  auto owner = device();
  Device& d = *owner;
  ASSERT_TRUE(d.translate(block_iova, kWrite).ok());
  uint64_t pages = *mem.alloc(k4K);
  mem.write64(pages, fmt.make_leaf(0xb0000000, k4K, IOMMU_READ));
  mem.write64(l2 + 2 * 8, fmt.make_table(pages));
  std::vector<AccessResult> all = d.possible(block_iova, kWrite);
  ASSERT_EQ(all.size(), 4u);  // the IOTLB block, walks from the level-1 and level-0 entries, root
  EXPECT_TRUE(all[0].ok());
  EXPECT_EQ(all[0].leaf->paddr_base, 0xa0000000u);
  for (size_t i = 1; i < all.size(); i++) {
    EXPECT_EQ(all[i].fault->reason, FaultReason::kPermission);
    EXPECT_EQ(all[i].leaf->paddr_base, 0xb0000000u);
  }
  EXPECT_EQ(d.translate(block_iova, kWrite).leaf->paddr_base, 0xa0000000u);
}

TEST_F(DeviceTest, CachesOffAlwaysWalk) {
  auto owner = device({.ctx = kAsid,
                     .iotlb = {.cache = {.mode = CacheMode::kOff}},
                     .walk_cache = {.mode = CacheMode::kOff}});
  Device& d = *owner;
  ASSERT_TRUE(d.translate(kIova, kRead).ok());
  mem.write64(l3 + 1 * 8, 0);
  AccessResult r = d.translate(kIova, kRead);
  EXPECT_EQ(r.source, Source::kWalk);
  EXPECT_FALSE(r.ok());
}

TEST_F(DeviceTest, MissingTtbrFaults) {
  Device d(mem, fmt, {.ctx = kAsid});
  EXPECT_EQ(d.translate(kIova, kRead).fault->reason, FaultReason::kTranslation);
}

}  // namespace
}  // namespace iommu::hw
