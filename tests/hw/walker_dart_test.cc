// The generic walker over hand-built Apple DART tables, with the TTBR picked by high iova bits.
#include <gtest/gtest.h>

#include <array>

#include "hw/walker.h"

namespace iommu::hw {
namespace {

TEST(WalkerDart, FourTtbrsWith4kGranule) {
  TableMemory mem;
  Format fmt = make_format({.name = "apple-dart", .ias = 32, .granule = 4096});
  std::array<uint64_t, 4> ttbrs{*mem.alloc(4096), *mem.alloc(4096), *mem.alloc(4096),
                                *mem.alloc(4096)};
  uint64_t l2 = *mem.alloc(4096);
  ASSERT_EQ(l2, 0x80004000u);
  // iova 0xc0201000: TTBR 3 (bits 31:30), L1 index 1 (bits 29:21), L2 index 1 (bits 20:12)
  mem.write64(ttbrs[3] + 8, 0x0000000080004001);
  mem.write64(l2 + 8, 0x000fff0800004083);  // read-only page at 0x800004000
  WalkResult r = walk(mem, fmt, ttbrs, 0xc0201abc);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(*r.leaf(), (Leaf{.iova_base = 0xc0201000,
                             .paddr_base = 0x800004000,
                             .size = 4096,
                             .level = 2,
                             .perms = {.read = true, .write = false, .exec = true}}));
  EXPECT_EQ(r.path.steps[0], (TableStep{1, 0xc0200000, ttbrs[3] + 8, l2, 2}));
  // the same index under TTBR 0 is empty
  EXPECT_EQ(walk(mem, fmt, ttbrs, 0x00201abc).fault()->reason, FaultReason::kTranslation);
  // with only one root programmed, TTBR 3 does not exist
  WalkResult one = walk(mem, fmt, ttbrs[0], 0xc0201abc);
  EXPECT_EQ(one.fault()->reason, FaultReason::kTranslation);
}

TEST(WalkerDart, Dart2) {
  TableMemory mem;
  Format fmt = make_format({.name = "apple-dart2"});
  uint64_t l1 = *mem.alloc(16384), l2 = *mem.alloc(16384);
  ASSERT_EQ(l2, 0x80004000u);
  // iova 0x02004000: L1 index 1 (bits 35:25), L2 index 1 (bits 24:14); 0x80004000 >> 4
  mem.write64(l1 + 8, 0x0000000008000401);
  mem.write64(l2 + 8, 0x000fff0030000407);  // read-only page at 0x300004000
  WalkResult r = walk(mem, fmt, l1, 0x02004010);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->paddr_base, 0x300004000u);
  EXPECT_EQ(r.leaf()->size, 16384u);
  EXPECT_FALSE(r.leaf()->perms.write);
  mem.write64(l2 + 16, 0x0000000030000403);  // subpage window end 0
  EXPECT_EQ(walk(mem, fmt, l1, 0x02008000).fault()->reason, FaultReason::kReserved);
  EXPECT_EQ(walk(mem, fmt, l1, 1ull << 32).fault()->reason, FaultReason::kAddressSize);
}

}  // namespace
}  // namespace iommu::hw
