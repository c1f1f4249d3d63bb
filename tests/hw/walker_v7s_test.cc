// The generic walker over hand-built ARMv7 short-descriptor tables, including the 16-entry
// replicas of large pages and supersections.
#include <gtest/gtest.h>

#include "hw/walker.h"

namespace iommu::hw {
namespace {

struct V7sTables : ::testing::Test {
  TableMemory mem;
  Format fmt = make_format({.name = "arm-v7s"});
  uint64_t pgd = *mem.alloc(16384);
  uint64_t l2 = *mem.alloc(1024);

  void SetUp() override {
    ASSERT_EQ(l2, 0x80004000u);
    mem.write32(pgd + 0x123 * 4, 0x80004001);  // table
    mem.write32(l2 + 0x45 * 4, 0x40000c72);    // small page rw
    for (uint64_t i = 0x50; i < 0x60; i++) mem.write32(l2 + i * 4, 0x40011c31);  // large page
    for (uint64_t i = 0x200; i < 0x210; i++) mem.write32(pgd + i * 4, 0x41071c02);  // 16M
    mem.write32(pgd + 0x300 * 4, 0x40131c02);  // section
  }
};

TEST_F(V7sTables, SmallPage) {
  WalkResult r = walk(mem, fmt, pgd, 0x12345678);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(*r.leaf(), (Leaf{.iova_base = 0x12345000,
                             .paddr_base = 0x40000000,
                             .size = 4096,
                             .level = 2,
                             .perms = {.read = true, .write = true, .exec = true}}));
  ASSERT_EQ(r.path.count, 1u);
  EXPECT_EQ(r.path.steps[0], (TableStep{1, 0x12300000, 0x8000048c, 0x80004000, 2}));
}

TEST_F(V7sTables, LargePageAndSupersectionSpanTheirReplicas) {
  WalkResult large = walk(mem, fmt, pgd, 0x1235abcd);
  ASSERT_TRUE(large.leaf());
  EXPECT_EQ(large.leaf()->iova_base, 0x12350000u);
  EXPECT_EQ(large.leaf()->paddr_base, 0x40010000u);
  EXPECT_EQ(large.leaf()->size, 65536u);
  WalkResult super = walk(mem, fmt, pgd, 0x20512345);
  ASSERT_TRUE(super.leaf());
  EXPECT_EQ(super.leaf()->iova_base, 0x20000000u);
  EXPECT_EQ(super.leaf()->paddr_base, 0x41000000u);
  EXPECT_EQ(super.leaf()->size, 1u << 24);
  EXPECT_EQ(super.leaf()->level, 1u);
  WalkResult section = walk(mem, fmt, pgd, 0x30012345);
  ASSERT_TRUE(section.leaf());
  EXPECT_EQ(section.leaf()->paddr_base, 0x40100000u);
  EXPECT_EQ(section.leaf()->size, 1u << 20);
}

TEST_F(V7sTables, ReplicaMismatchIsInconsistent) {
  mem.write32(l2 + 0x5a * 4, 0x40021c31);  // one replica points elsewhere
  WalkResult r = walk(mem, fmt, pgd, 0x12355000);
  ASSERT_TRUE(r.fault());
  EXPECT_EQ(r.fault()->reason, FaultReason::kInconsistent);
  EXPECT_EQ(r.fault()->desc_paddr, l2 + 0x55 * 4);
  mem.write32(pgd + 0x20f * 4, 0);  // a missing supersection replica
  EXPECT_EQ(walk(mem, fmt, pgd, 0x20000000).fault()->reason, FaultReason::kInconsistent);
}

TEST_F(V7sTables, Faults) {
  EXPECT_EQ(walk(mem, fmt, pgd, 0x12346000).fault()->reason, FaultReason::kTranslation);
  EXPECT_EQ(walk(mem, fmt, pgd, 0x00100000).fault()->level, 1u);
  mem.write32(pgd + 0x400 * 4, 0x40131c03);
  EXPECT_EQ(walk(mem, fmt, pgd, 0x40000000).fault()->reason, FaultReason::kReserved);
  mem.free(l2);
  EXPECT_EQ(walk(mem, fmt, pgd, 0x12345678).fault()->reason, FaultReason::kBadTable);
  Format ias30 = make_format({.name = "arm-v7s", .ias = 30});
  EXPECT_EQ(walk(mem, ias30, pgd, 0x40000000).fault()->reason, FaultReason::kAddressSize);
}

}  // namespace
}  // namespace iommu::hw
