// The virtio-iommu guest driver under the core: the virtio window (a queued MAP invisible to
// the device until its sync, an UNMAP visible until its sync), synchronous requests, the
// forced sync of a full queue, UNMAP's range rules, device refusals, and each seeded bug.
#include "impl/virtio_iommu.h"

#include <gtest/gtest.h>

#include "base/bits.h"
#include "base/prot.h"
#include "impl/dma.h"
#include "impl/domain.h"
#include "impl/mutant.h"

namespace iommu::impl {
namespace {

constexpr uint64_t P = 0x1000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;
constexpr uint64_t kBitmap = genmask(21, 12);

struct Virtio {
  explicit Virtio(VirtioRequests requests, size_t queue = 16,
                  ref::Invalidation inv = ref::Invalidation::kStrict, Mutant bug = Mutant::kNone)
      : device(queue),
        iommu(device, {requests, kBitmap, 48, 48, bug}),
        domain(iommu, iommu,
               {kBitmap, 48, 48, ref::PartialUnmap::kWhole, requests == VirtioRequests::kQueued,
                inv}) {}
  bool visible(uint64_t iova) const { return device.lookup(iova).has_value(); }
  // The paddr a device access to iova reaches.
  uint64_t reached(uint64_t iova) const {
    const auto m = device.lookup(iova);
    return m ? m->paddr + (iova - m->first) : 0;
  }

  hw::VirtioIommuDevice device;
  VirtioIommu iommu;
  Domain domain;
};

TEST(VirtioWindow, AQueuedMapIsInvisibleUntilItsSync) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map_nosync(0x10000, 0x80000, 4 * P, RW), 0);
  EXPECT_EQ(v.domain.iova_to_phys(0x10000), 0x80000u) << "the guest's tree has it at once";
  EXPECT_FALSE(v.visible(0x10000));
  v.domain.iotlb_sync_map(0x10000, 4 * P);
  ASSERT_TRUE(v.visible(0x13000));
  EXPECT_EQ(v.reached(0x13000), 0x83000u);
}

TEST(VirtioWindow, AnUnmapStaysVisibleUntilItsSync) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map(0x10000, 0x80000, 4 * P, RW), 0);
  IotlbGather gather;
  EXPECT_EQ(v.domain.unmap_fast(0x10000, 4 * P, gather), 4 * P);
  EXPECT_EQ(v.domain.iova_to_phys(0x10000), 0u);
  EXPECT_TRUE(v.visible(0x10000));
  v.domain.iotlb_sync(gather);
  EXPECT_FALSE(v.visible(0x10000));
}

TEST(VirtioWindow, FlushIotlbAllPushesEverything) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map_nosync(0x10000, 0x80000, P, RW), 0);
  v.domain.flush_iotlb_all();
  EXPECT_TRUE(v.visible(0x10000));
}

TEST(VirtioWindow, SynchronousRequestsAreVisibleOnReturn) {
  Virtio v(VirtioRequests::kSynchronous);
  EXPECT_FALSE(v.iommu.caches_non_present());
  ASSERT_EQ(v.domain.map_nosync(0x10000, 0x80000, 4 * P, RW), 0);
  EXPECT_TRUE(v.visible(0x13000));
  IotlbGather gather;
  v.domain.unmap_fast(0x10000, 4 * P, gather);
  EXPECT_FALSE(v.visible(0x10000));
  EXPECT_EQ(v.iommu.stats().syncs, v.iommu.stats().requests);
}

TEST(VirtioQueue, AFullQueueForcesASync) {
  Virtio v(VirtioRequests::kQueued, 4);
  // 0x1000 against 0x82000: iommu_pgsize gives one run of 6 pages, one MAP each.
  ASSERT_EQ(v.domain.map_nosync(0x1000, 0x82000, 6 * P, RW), 0);
  EXPECT_EQ(v.iommu.stats().forced_syncs, 1u);
  EXPECT_TRUE(v.visible(0x1000)) << "the first four went with the forced sync";
  EXPECT_FALSE(v.visible(0x6000));
  v.domain.iotlb_sync_map(0x1000, 6 * P);
  EXPECT_TRUE(v.visible(0x6000));
}

TEST(VirtioUnmap, AMappingThatReachesPastTheRequestGoesWhole) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map(0x200000, 0x400000, 0x200000, RW), 0);  // one 2M mapping
  EXPECT_EQ(v.domain.unmap(0x200000, P), 0x200000u);
  EXPECT_FALSE(v.visible(0x3ff000));
  EXPECT_TRUE(v.iommu.take_refusals().empty());
}

TEST(VirtioUnmap, ACutAtTheStartTakesTheWholeMappingAndStops) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map(0x200000, 0x400000, 0x200000, RW), 0);
  ASSERT_EQ(v.domain.map(0x400000, 0x800000, P, RW), 0);
  EXPECT_EQ(v.iommu.unmap_pages(0x201000, P, 0x200, nullptr), 0x200000u);
  v.domain.flush_iotlb_all();
  EXPECT_FALSE(v.visible(0x200000));
  EXPECT_TRUE(v.visible(0x400000));
  EXPECT_TRUE(v.iommu.take_refusals().empty()) << "the UNMAP covered the mapping whole";
}

TEST(VirtioUnmap, AHoleStopsTheWalk) {
  Virtio v(VirtioRequests::kQueued);
  ASSERT_EQ(v.domain.map(0x10000, 0x80000, P, RW), 0);
  ASSERT_EQ(v.domain.map(0x12000, 0x90000, P, RW), 0);
  EXPECT_EQ(v.iommu.unmap_pages(0x10000, P, 3, nullptr), P);
  EXPECT_EQ(v.iommu.unmap_pages(0x11000, P, 1, nullptr), 0u);
  EXPECT_EQ(v.iommu.unmap_pages(0x10800, P, 1, nullptr), 0u) << "unaligned";
  EXPECT_EQ(v.domain.iova_to_phys(0x12000), 0x90000u);
}

TEST(VirtioMap, ErrorsAsTheCoreExpects) {
  Virtio v(VirtioRequests::kQueued);
  uint64_t mapped = 0;
  ASSERT_EQ(v.domain.map(0x12000, 0x90000, P, RW), 0);
  EXPECT_EQ(v.iommu.map_pages(0x10000, 0x80000, P, 4, RW, &mapped), -EEXIST);
  EXPECT_EQ(mapped, 2 * P);
  EXPECT_EQ(v.iommu.map_pages(0x40000, 0x80000, 3 * P, 1, RW, nullptr), -EINVAL);
  EXPECT_EQ(v.iommu.map_pages(0x40000, 0x80000, P, 1, IOMMU_CACHE, nullptr), -EINVAL);
  EXPECT_EQ(v.iommu.map_pages(bit(48), 0x80000, P, 1, RW, nullptr), -ERANGE);
  mapped = 0;
  EXPECT_EQ(v.iommu.map_pages(bit(48) - P, 0x80000, P, 2, RW, &mapped), -ERANGE);
  EXPECT_EQ(mapped, P);
}

TEST(VirtioDevice, ARefusedRequestIsReported) {
  Virtio v(VirtioRequests::kQueued);
  // A mapping the guest does not know of: the guest's tree and the device's have parted.
  v.device.add({hw::VirtioRequest::Type::kMap, 0x10000, 0x10fff, 0x1000, hw::kVirtioMapRead});
  v.device.sync();
  ASSERT_EQ(v.domain.map(0x10000, 0x80000, P, RW), 0);
  const auto refusals = v.iommu.take_refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_NE(refusals[0].find("S_INVAL"), std::string::npos) << refusals[0];
}

// The DMA layer over virtio: a strict dma_unmap returns with the device's translation gone, a
// lazy one leaves it until the flush queue's flush_iotlb_all frees the IOVA.
TEST(VirtioDma, StrictUnmapIsSyncedBeforeTheIovaIsFree) {
  Virtio v(VirtioRequests::kQueued);
  ManualClock clock;
  Dma dma(v.domain, clock);
  const DmaMapping m = dma.dma_map(0x80000000, 2 * P, RW);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(v.visible(m.iova)) << "dma_map ends with iotlb_sync_map";
  dma.dma_unmap(m.iova, 2 * P);
  EXPECT_FALSE(v.visible(m.iova));
  EXPECT_FALSE(dma.iovas().is_live(m.iova, 2 * P));
}

TEST(VirtioDma, LazyUnmapStaysUntilTheFlushQueueFlushes) {
  Virtio v(VirtioRequests::kQueued, 16, ref::Invalidation::kLazy);
  ManualClock clock;
  Dma dma(v.domain, clock);
  const DmaMapping m = dma.dma_map(0x80000000, P, RW);
  dma.dma_unmap(m.iova, P);
  EXPECT_TRUE(v.visible(m.iova)) << "the UNMAP waits in the request queue";
  EXPECT_TRUE(dma.iovas().is_live(m.iova, P)) << "and the IOVA in the flush queue";
  dma.flush_queue_now();
  EXPECT_FALSE(v.visible(m.iova));
  EXPECT_FALSE(dma.iovas().is_live(m.iova, P));
}

// The seeded bug at the DMA layer: the IOVA is free (and handed out again) while the device
// still translates it to the old buffer.
TEST(VirtioDma, UnmapUnsyncedFreesAnIovaTheDeviceStillUses) {
  Virtio v(VirtioRequests::kQueued, 16, ref::Invalidation::kStrict, Mutant::kVirtioUnmapUnsynced);
  ManualClock clock;
  Dma dma(v.domain, clock);
  const DmaMapping m = dma.dma_map(0x80000000, P, RW);
  dma.dma_unmap(m.iova, P);
  EXPECT_FALSE(dma.iovas().is_live(m.iova, P));
  EXPECT_EQ(v.reached(m.iova), 0x80000000u);
}

// Each seeded bug, seen at the device.
TEST(VirtioMutants, NoSyncMapLeavesTheMappingInvisible) {
  Virtio v(VirtioRequests::kQueued, 16, ref::Invalidation::kStrict, Mutant::kVirtioNoSyncMap);
  ASSERT_EQ(v.domain.map(0x10000, 0x80000, P, RW), 0);
  EXPECT_FALSE(v.visible(0x10000));
}

TEST(VirtioMutants, UnmapUnsyncedLeavesTheTranslationAfterAStrictUnmap) {
  Virtio v(VirtioRequests::kQueued, 16, ref::Invalidation::kStrict, Mutant::kVirtioUnmapUnsynced);
  ASSERT_EQ(v.domain.map(0x10000, 0x80000, P, RW), 0);
  EXPECT_EQ(v.domain.unmap(0x10000, P), P);
  EXPECT_TRUE(v.visible(0x10000));
}

TEST(VirtioMutants, QueueFullDropsLosesMappings) {
  Virtio v(VirtioRequests::kQueued, 4, ref::Invalidation::kStrict, Mutant::kVirtioQueueFullDrops);
  ASSERT_EQ(v.domain.map(0x1000, 0x82000, 6 * P, RW), 0);
  EXPECT_EQ(v.iommu.stats().forced_syncs, 0u);
  EXPECT_FALSE(v.visible(0x5000));
}

}  // namespace
}  // namespace iommu::impl
