// The virtio-iommu specification's UNMAP examples (5.13.6.6), in 4 KiB pages: a device removes
// every mapping inside the range and refuses (S_RANGE) one it would only partly cover. The
// REFUSE policy is that rule at the driver level; the Linux core adds "stop at a hole".
#include <gtest/gtest.h>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t P = 0x1000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

RefDomain virtio_domain() {
  return RefDomain({P, 32, 48, PartialUnmap::kRefuse, true, Invalidation::kStrict});
}

// Pages [first, last] as one mapping, the spec's MAP(virt_start, virt_end).
void map_pages(RefDomain& d, uint64_t first, uint64_t last, uint64_t paddr) {
  ASSERT_EQ(d.map(first * P, paddr, (last - first + 1) * P, RW), 0);
}

uint64_t unmap_pages(RefDomain& d, uint64_t first, uint64_t last) {
  return d.unmap(first * P, (last - first + 1) * P) / P;
}

TEST(VirtioUnmapExamples, UnmapOfTheExactMapping) {
  RefDomain d = virtio_domain();
  map_pages(d, 0, 9, 0x100000);
  EXPECT_EQ(unmap_pages(d, 0, 9), 10u);
  EXPECT_TRUE(d.pgtable().leaves().empty());
}

TEST(VirtioUnmapExamples, OneUnmapRemovesTwoAdjacentMappings) {
  RefDomain d = virtio_domain();
  map_pages(d, 0, 4, 0x100000);
  map_pages(d, 5, 9, 0x900000);
  EXPECT_EQ(unmap_pages(d, 0, 9), 10u);
  EXPECT_TRUE(d.pgtable().leaves().empty());
}

TEST(VirtioUnmapExamples, UnmapThatSplitsAMappingRemovesNothing) {
  // With 4 KiB pages only, a 10-page mapping is 10 leaves: the Linux core unmaps them one by
  // one. The spec's refusal concerns a single mapping, which here is one 64 KiB leaf.
  RefDomain d({P | 0x10000, 32, 48, PartialUnmap::kRefuse, true, Invalidation::kStrict});
  ASSERT_EQ(d.map(0, 0x100000, 0x10000, RW), 0);
  EXPECT_EQ(unmap_pages(d, 0, 4), 0u);
  EXPECT_EQ(d.iova_to_phys(0), 0x100000u);
}

TEST(VirtioUnmapExamples, HolesInsideTheRangeStopTheLinuxCore) {
  // The device would remove both mappings; the Linux core stops at the first hole, so a
  // caller sees only the first one unmapped and must unmap the second itself.
  RefDomain d = virtio_domain();
  map_pages(d, 0, 4, 0x100000);
  map_pages(d, 10, 14, 0x900000);
  EXPECT_EQ(unmap_pages(d, 0, 14), 5u);
  EXPECT_EQ(d.iova_to_phys(10 * P), 0x900000u);
  EXPECT_EQ(unmap_pages(d, 10, 14), 5u);
}

TEST(VirtioUnmapExamples, UnmapOfNothingUnmapsNothing) {
  RefDomain d = virtio_domain();
  EXPECT_EQ(unmap_pages(d, 0, 9), 0u);
}

}  // namespace
}  // namespace iommu::ref
