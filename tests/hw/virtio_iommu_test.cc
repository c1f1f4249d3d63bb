// The virtio-iommu device: requests take effect only at a sync, in queue order; MAP over a
// mapping is S_INVAL; UNMAP removes every mapping inside its range and refuses (S_RANGE,
// nothing removed) one that would split a mapping (virtio specification 5.13.6.5-6).
#include "hw/virtio_iommu.h"

#include <gtest/gtest.h>

namespace iommu::hw {
namespace {

constexpr uint64_t P = 0x1000;
using Type = VirtioRequest::Type;

VirtioRequest map(uint64_t first_page, uint64_t last_page, uint64_t paddr) {
  return {Type::kMap, first_page * P, (last_page + 1) * P - 1, paddr, kVirtioMapRead};
}
VirtioRequest unmap(uint64_t first_page, uint64_t last_page) {
  return {Type::kUnmap, first_page * P, (last_page + 1) * P - 1, 0, 0};
}

TEST(VirtioDevice, RequestsTakeEffectOnlyAtTheSync) {
  VirtioIommuDevice d(8);
  ASSERT_TRUE(d.add(map(0, 9, 0x100000)));
  EXPECT_FALSE(d.lookup(0x1234));
  EXPECT_EQ(d.sync(), std::vector<VirtioStatus>{VirtioStatus::kOk});
  ASSERT_TRUE(d.lookup(0x1234));
  EXPECT_EQ(d.lookup(0x1234)->paddr, 0x100000u);
  ASSERT_TRUE(d.add(unmap(0, 9)));
  EXPECT_TRUE(d.lookup(0x1234)) << "an UNMAP still in the queue";
  d.sync();
  EXPECT_FALSE(d.lookup(0x1234));
  EXPECT_EQ(d.stats().syncs, 2u);
}

TEST(VirtioDevice, TheQueueIsBounded) {
  VirtioIommuDevice d(2);
  EXPECT_TRUE(d.add(map(0, 0, 0)));
  EXPECT_TRUE(d.add(map(1, 1, 0)));
  EXPECT_FALSE(d.add(map(2, 2, 0)));
  d.sync();
  EXPECT_TRUE(d.add(map(2, 2, 0)));
  EXPECT_THROW(VirtioIommuDevice(0), std::invalid_argument);
}

TEST(VirtioDevice, MapOverAMappingIsInval) {
  VirtioIommuDevice d(8);
  d.add(map(0, 4, 0x100000));
  d.add(map(4, 5, 0x900000));
  EXPECT_EQ(d.sync(), (std::vector<VirtioStatus>{VirtioStatus::kOk, VirtioStatus::kInval}));
  EXPECT_EQ(d.lookup(4 * P)->first, 0u) << "the first mapping, unchanged";
}

TEST(VirtioDevice, UnmapRemovesEveryMappingInsideTheRange) {
  VirtioIommuDevice d(8);
  d.add(map(0, 4, 0x100000));
  d.add(map(5, 9, 0x900000));
  d.add(map(12, 14, 0x900000));
  d.add(unmap(0, 20));  // holes inside the range do not matter to the device
  EXPECT_EQ(d.sync().back(), VirtioStatus::kOk);
  EXPECT_TRUE(d.mappings().empty());
}

TEST(VirtioDevice, UnmapThatSplitsAMappingRemovesNothing) {
  VirtioIommuDevice d(8);
  d.add(map(0, 9, 0x100000));
  d.add(map(10, 11, 0x200000));
  d.add(unmap(0, 4));    // splits [0, 9] at its end
  d.add(unmap(5, 11));   // splits [0, 9] at its start
  d.add(unmap(11, 20));  // splits [10, 11]
  EXPECT_EQ(d.sync(),
            (std::vector<VirtioStatus>{VirtioStatus::kOk, VirtioStatus::kOk, VirtioStatus::kRange,
                                       VirtioStatus::kRange, VirtioStatus::kRange}));
  EXPECT_EQ(d.mappings().size(), 2u);
}

TEST(VirtioDevice, UnmapOfNothingSucceeds) {
  VirtioIommuDevice d(8);
  d.add(unmap(0, 9));
  EXPECT_EQ(d.sync(), std::vector<VirtioStatus>{VirtioStatus::kOk});
}

TEST(VirtioDevice, MappingsInARange) {
  VirtioIommuDevice d(8);
  d.add(map(0, 4, 0));
  d.add(map(8, 9, 0));
  d.add(map(20, 29, 0));
  d.sync();
  EXPECT_EQ(d.mappings_in(3 * P, 21 * P, 8).size(), 3u);
  EXPECT_EQ(d.mappings_in(3 * P, 21 * P, 2).size(), 2u);
  EXPECT_TRUE(d.mappings_in(5 * P, 7 * P, 8).empty());
}

}  // namespace
}  // namespace iommu::hw
