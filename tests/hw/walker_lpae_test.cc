// The generic walker over hand-built LPAE tables (descriptor values written literally).
#include <gtest/gtest.h>

#include "hw/walker.h"

namespace iommu::hw {
namespace {

// Four 4K tables at 0x80000000.. and a path for
// iova = (1 << 39) | (2 << 30) | (3 << 21) | (4 << 12) | 0x678 = 0x8080604678.
struct S1Tables : ::testing::Test {
  TableMemory mem;
  Format fmt = make_format({.name = "arm-64-lpae-s1-4k"});
  uint64_t pgd = *mem.alloc(4096), l1 = *mem.alloc(4096), l2 = *mem.alloc(4096),
           l3 = *mem.alloc(4096);
  static constexpr uint64_t kIova = 0x8080604678;

  void SetUp() override {
    mem.write64(pgd + 1 * 8, 0x80001003);  // table -> l1
    mem.write64(l1 + 2 * 8, 0x80002003);   // table -> l2
    mem.write64(l2 + 3 * 8, 0x80003003);   // table -> l3
    mem.write64(l3 + 4 * 8, 0x40000e43);   // page rw, unpriv
  }
  uint64_t iova_with(uint64_t l2_index, uint64_t l3_index) const {
    return (1ull << 39) | (2ull << 30) | (l2_index << 21) | (l3_index << 12);
  }
};

TEST_F(S1Tables, WalksToAPage) {
  ASSERT_EQ(l3, 0x80003000u);
  WalkResult r = walk(mem, fmt, pgd, kIova);
  ASSERT_TRUE(r.leaf()) << fault_reason_name(r.fault()->reason);
  EXPECT_EQ(*r.leaf(), (Leaf{.iova_base = 0x8080604000,
                             .paddr_base = 0x40000000,
                             .size = 4096,
                             .level = 3,
                             .perms = {.read = true, .write = true, .exec = true}}));
  ASSERT_EQ(r.path.count, 3u);
  EXPECT_EQ(r.path.steps[0], (TableStep{0, 0x8000000000, 0x80000008, 0x80001000, 1}));
  EXPECT_EQ(r.path.steps[1], (TableStep{1, 0x8080000000, 0x80001010, 0x80002000, 2}));
  EXPECT_EQ(r.path.steps[2], (TableStep{2, 0x8080600000, 0x80002018, 0x80003000, 3}));
}

TEST_F(S1Tables, ResumesFromARememberedTable) {
  WalkResult r = walk_from(mem, fmt, {3, l3}, kIova);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->paddr_base, 0x40000000u);
  EXPECT_EQ(r.path.count, 0u);
}

TEST_F(S1Tables, WalksToABlock) {
  mem.write64(l2 + 5 * 8, 0x40200e41);  // 2M block
  WalkResult r = walk(mem, fmt, pgd, iova_with(5, 0x1f) | 0x123);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->iova_base, iova_with(5, 0));
  EXPECT_EQ(r.leaf()->paddr_base, 0x40200000u);
  EXPECT_EQ(r.leaf()->size, 1u << 21);
  EXPECT_EQ(r.leaf()->level, 2u);
}

void expect_fault(const WalkResult& r, FaultReason reason, unsigned level, uint64_t desc) {
  ASSERT_TRUE(r.fault());
  EXPECT_EQ(fault_reason_name(r.fault()->reason), fault_reason_name(reason));
  EXPECT_EQ(r.fault()->level, level);
  EXPECT_EQ(r.fault()->desc_paddr, desc);
}

TEST_F(S1Tables, Faults) {
  expect_fault(walk(mem, fmt, pgd, iova_with(3, 5)), FaultReason::kTranslation, 3, l3 + 5 * 8);
  mem.write64(l3 + 6 * 8, 0x40000e41);  // 0b01 at level 3
  expect_fault(walk(mem, fmt, pgd, iova_with(3, 6)), FaultReason::kReserved, 3, l3 + 6 * 8);
  mem.write64(l3 + 7 * 8, 0x40000a43);  // AF clear
  expect_fault(walk(mem, fmt, pgd, iova_with(3, 7)), FaultReason::kPermission, 3, l3 + 7 * 8);
  expect_fault(walk(mem, fmt, pgd, 1ull << 48), FaultReason::kAddressSize, 0, 0);
  mem.write64(l3 + 8 * 8, 0x0000010000000e43);  // PA 2^40
  Format oas40 = make_format({.name = "arm-64-lpae-s1-4k", .ias = 48, .oas = 40});
  expect_fault(walk(mem, oas40, pgd, iova_with(3, 8)), FaultReason::kAddressSize, 3, l3 + 64);
  EXPECT_TRUE(walk(mem, fmt, pgd, iova_with(3, 8)).leaf());
}

TEST_F(S1Tables, WalkThroughFreedTableIsBadTable) {
  mem.free(l3);
  expect_fault(walk(mem, fmt, pgd, kIova), FaultReason::kBadTable, 3, 0x80003020);
  mem.write64(l2 + 7 * 8, 0x90000003);  // table never allocated
  expect_fault(walk(mem, fmt, pgd, iova_with(7, 1)), FaultReason::kBadTable, 3, 0x90000008);
}

TEST(WalkerLpae, CheckAccess) {
  Leaf rw{.level = 3, .perms = {.read = true, .write = true, .exec = true}};
  EXPECT_FALSE(check_access(rw, {.write = true}));
  EXPECT_FALSE(check_access(rw, {.exec = true}));
  Leaf ro_xn_priv{.level = 2, .perms = {.read = true, .priv_only = true}};
  EXPECT_FALSE(check_access(ro_xn_priv, {.priv = true}));
  auto f = check_access(ro_xn_priv, {});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->reason, FaultReason::kPermission);
  EXPECT_EQ(f->level, 2u);
  EXPECT_TRUE(check_access(ro_xn_priv, {.write = true, .priv = true}));
  EXPECT_TRUE(check_access(ro_xn_priv, {.exec = true, .priv = true}));
  Leaf wo{.perms = {.write = true}};
  EXPECT_TRUE(check_access(wo, {}));
  EXPECT_FALSE(check_access(wo, {.write = true}));
}

TEST(WalkerLpae, Stage2ConcatenatedPgd) {
  // ias 40: two concatenated level-1 tables (8K); iova bit 39 selects the second one.
  TableMemory mem;
  Format fmt = make_format({.name = "arm-64-lpae-s2-4k", .ias = 40, .oas = 40});
  uint64_t pgd = *mem.alloc(fmt.geo().pgd_bytes);
  uint64_t l2 = *mem.alloc(4096), l3 = *mem.alloc(4096);
  ASSERT_EQ(pgd, 0x80000000u);
  ASSERT_EQ(l2, 0x80002000u);
  uint64_t iova = (0x201ull << 30) | (1ull << 21) | (1ull << 12);  // 0x8040201000
  mem.write64(pgd + 0x201 * 8, 0x80002003);  // at pgd + 0x1008, in the second table
  mem.write64(l2 + 8, 0x80003003);
  mem.write64(l3 + 8, 0x40000697);  // write-only NC page
  WalkResult r = walk(mem, fmt, pgd, iova);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->paddr_base, 0x40000000u);
  EXPECT_EQ(r.leaf()->perms, (Perms{.write = true, .exec = true}));
  EXPECT_EQ(r.path.steps[0], (TableStep{1, 0x8040000000, 0x80001008, 0x80002000, 2}));
}

TEST(WalkerLpae, Stage2TwoEntryLevel0) {
  // ias 40 walked from level 0, as Linux 7.x builds it for an oas of 48: iova bit 39 picks
  // the second of two level-0 entries.
  TableMemory mem;
  Format fmt = make_format({.name = "arm-64-lpae-s2-4k", .ias = 40, .oas = 48, .start_level = 0});
  uint64_t pgd = *mem.alloc(fmt.geo().pgd_bytes);
  // Freed, so that the 8K a concatenated level 1 would span runs into no table.
  uint64_t gap = *mem.alloc(4096);
  uint64_t l1 = *mem.alloc(4096), l2 = *mem.alloc(4096), l3 = *mem.alloc(4096);
  mem.free(gap);
  uint64_t iova = (1ull << 39) | (0x3ull << 30) | (1ull << 21) | (1ull << 12);
  mem.write64(pgd + 8, l1 | 3);
  mem.write64(l1 + 3 * 8, l2 | 3);
  mem.write64(l2 + 8, l3 | 3);
  mem.write64(l3 + 8, 0x400006d7);  // read-write NC page
  WalkResult r = walk(mem, fmt, pgd, iova);
  ASSERT_TRUE(r.leaf()) << fault_reason_name(r.fault()->reason);
  EXPECT_EQ(r.leaf()->paddr_base, 0x40000000u);
  ASSERT_EQ(r.path.count, 3u);
  EXPECT_EQ(r.path.steps[0], (TableStep{0, 1ull << 39, pgd + 8, l1, 1}));
  // The default geometry walks the same root as two concatenated level-1 tables: the 16-byte
  // table is too small for it.
  Format concat = make_format({.name = "arm-64-lpae-s2-4k", .ias = 40, .oas = 48});
  ASSERT_EQ(concat.geo().start_level, 1u);
  ASSERT_TRUE(walk(mem, concat, pgd, iova).fault());
  EXPECT_EQ(walk(mem, concat, pgd, iova).fault()->reason, FaultReason::kBadTable);
}

TEST(WalkerLpae, Stage2With52BitTableAddresses) {
  TableMemory mem({.base = 0x000f000000000000, .limit = 1ull << 52});
  Format fmt = make_format({.name = "arm-64-lpae-s2-64k", .ias = 52, .oas = 52});
  uint64_t pgd = *mem.alloc(fmt.geo().pgd_bytes);
  uint64_t l2 = *mem.alloc(65536), l3 = *mem.alloc(65536);
  ASSERT_EQ(l2, 0x000f000000010000u);
  ASSERT_EQ(l3, 0x000f000000020000u);
  uint64_t iova = (1ull << 42) | (2ull << 29) | (3ull << 16) | 0x1234;
  mem.write64(pgd + 1 * 8, 0x000000000001f003);  // PA[51:48] = 0xf in bits 15:12
  mem.write64(l2 + 2 * 8, 0x000000000002f003);
  mem.write64(l3 + 3 * 8, 0x000000004001f6d7);
  WalkResult r = walk(mem, fmt, pgd, iova);
  ASSERT_TRUE(r.leaf()) << fault_reason_name(r.fault()->reason);
  EXPECT_EQ(r.leaf()->paddr_base, 0x000f000040010000u);
  EXPECT_EQ(r.leaf()->size, 65536u);
  Format oas48 = make_format({.name = "arm-64-lpae-s2-64k", .ias = 48, .oas = 48});
  EXPECT_EQ(walk(mem, oas48, pgd, iova & ((1ull << 48) - 1)).fault()->reason,
            FaultReason::kAddressSize);
}

TEST(WalkerLpae, MaliFourLevelsWithType01Pages) {
  TableMemory mem;
  Format fmt = make_format({.name = "arm-mali-lpae", .ias = 32, .oas = 40});
  uint64_t l0 = *mem.alloc(4096), l1 = *mem.alloc(4096), l2 = *mem.alloc(4096),
           l3 = *mem.alloc(4096);
  mem.write64(l0, l1 | 3);  // the one level-0 entry
  mem.write64(l1 + 3 * 8, l2 | 3);
  mem.write64(l2 + 0, l3 | 3);
  mem.write64(l3 + 5 * 8, 0x400002c1);
  WalkResult r = walk(mem, fmt, l0, (3ull << 30) | (5ull << 12));
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->paddr_base, 0x40000000u);
  EXPECT_EQ(r.path.count, 3u);
}

}  // namespace
}  // namespace iommu::hw
