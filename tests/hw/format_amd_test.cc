// amd-v1: geometry, Linux 6.12's encoding and the hardware's decoding, checked against values
// composed by hand from the AMD IOMMU specification (48882 rev 3.x, 2.2.3 "I/O Page Tables for
// Host Translations"), then the walker, the walk cache and the dump over hand-built tables with
// skipped levels and NextLevel-7 pages.
#include <gtest/gtest.h>

#include <memory>

#include "base/prot.h"
#include "hw/device.h"
#include "hw/dump.h"
#include "hw/walker.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE;
constexpr uint64_t K = 1024, M = K * K, G = M * K;

// Spec, "I/O Page Directory Entry" and "I/O Page Table Entry" field tables: PR bit 0, NextLevel
// bits 11:9, address bits 51:12, D bit 6, FC bit 60 (PTE), IR bit 61, IW bit 62.
constexpr uint64_t kPR = uint64_t{1} << 0;
constexpr uint64_t kD = uint64_t{1} << 6;
constexpr uint64_t kFC = uint64_t{1} << 60;
constexpr uint64_t kIR = uint64_t{1} << 61;
constexpr uint64_t kIW = uint64_t{1} << 62;
constexpr uint64_t next_level(uint64_t n) { return n << 9; }

Format amd(unsigned ias = 0) { return make_format({.name = "amd-v1", .ias = ias}); }

TEST(FormatAmd, GeometryOfEachPagingMode) {
  // Table 15 "Page Table Level Parameters": level N indexes iova bits 12+9N-1..12+9(N-1);
  // our level is 6 - N.
  const Geometry g = amd().geo();  // Linux's default here: mode 4, ias 48
  EXPECT_EQ(g.start_level, 2u);
  EXPECT_EQ(g.last_level, 5u);
  EXPECT_EQ(g.oas, 52u);
  for (unsigned l = 2; l <= 5; l++) {
    EXPECT_EQ(g.at(l).shift, 12 + 9 * (5 - l)) << l;
    EXPECT_EQ(g.at(l).index_bits, 9u);
    EXPECT_EQ(g.at(l).table_bytes, 4096u);
    EXPECT_EQ(g.at(l).leaf_size, uint64_t{1} << (12 + 9 * (5 - l)));
    EXPECT_EQ(g.at(l).has_tables, l < 5);
  }
  // AMD_IOMMU_PGSIZES (GENMASK_ULL(51, 12) ^ SZ_512G) below the 48-bit ias.
  EXPECT_EQ(g.pgsize_bitmap, 0x0000'ff7f'ffff'f000u);
  const Geometry six = amd(64).geo();
  EXPECT_EQ(six.start_level, 0u);
  EXPECT_EQ(six.at(0).shift, 57u);
  EXPECT_EQ(six.at(0).index_bits, 7u);  // bits 63:57
  EXPECT_EQ(six.at(0).leaf_size, 0u);   // level 6 holds PDEs only
  EXPECT_EQ(six.pgsize_bitmap, 0x000f'ff7f'ffff'f000u);
  const Geometry one = amd(21).geo();
  EXPECT_EQ(one.start_level, 5u);
  EXPECT_EQ(one.pgsize_bitmap, 0x001f'f000u);  // 4K..1M, all in level-1 entries
  EXPECT_EQ(amd(30).geo().start_level, 4u);
  EXPECT_EQ(amd(57).geo().start_level, 1u);
}

TEST(FormatAmd, LimitsNameWhatIsAccepted) {
  try {
    amd(40);
    FAIL() << "ias 40 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "ias 40 not supported: amd-v1 takes 21, 30, 39, 48, 57 or 64 "
                 "(paging modes 1 to 6)");
  }
  EXPECT_THROW(make_format({.name = "amd-v1", .oas = 53}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "amd-v1", .granule = 4096}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "amd-v1", .start_level = 1}), std::invalid_argument);
  EXPECT_THROW(amd().make_table(0x80001000), std::logic_error);  // the level is needed
}

TEST(FormatAmd, LeafLevelsAndReplicas) {
  // PAGE_SIZE_LEVEL / PAGE_SIZE_PTE_COUNT: a size lives at the level of the largest natural
  // page not above it, in size / natural entries.
  const Format f = amd();
  EXPECT_EQ(f.leaf_level(4 * K), 5u);
  EXPECT_EQ(f.replicas(4 * K), 1u);
  EXPECT_EQ(f.leaf_level(8 * K), 5u);
  EXPECT_EQ(f.replicas(8 * K), 2u);
  EXPECT_EQ(f.replicas(1 * M), 256u);
  EXPECT_EQ(f.leaf_level(2 * M), 4u);
  EXPECT_EQ(f.replicas(2 * M), 1u);
  EXPECT_EQ(f.leaf_level(1024 * G), 2u);  // 1T: two 512G entries
  EXPECT_EQ(f.replicas(1024 * G), 2u);
  EXPECT_THROW(f.leaf_level(512 * G), std::invalid_argument);  // not in AMD_IOMMU_PGSIZES
}

TEST(FormatAmd, EncodesAsLinux) {
  const Format f = amd();
  // PM_LEVEL_PDE(level, paddr) at AMD level 4 (ours 2): NextLevel 3, IR, IW, PR.
  EXPECT_EQ(f.make_table(0x80001000, 2), 0x80001000 | next_level(3) | kIR | kIW | kPR);
  EXPECT_EQ(f.make_table(0x80002000, 4), 0x80002000 | next_level(1) | kIR | kIW | kPR);
  // A natural-size page: NextLevel 0, PR and FC always, IR/IW from prot.
  EXPECT_EQ(f.make_leaf(0x40001000, 4 * K, R | W), 0x40001000 | kIR | kIW | kFC | kPR);
  EXPECT_EQ(f.make_leaf(0x40200000, 2 * M, R), 0x40200000 | kIR | kFC | kPR);
  EXPECT_EQ(f.make_leaf(0x40003000, 4 * K, W), 0x40003000 | kIW | kFC | kPR);
  // Table 14 "Example Page Size Encodings", NextLevel 7: for 2^n bytes, address bits n-2..12
  // are ones and bit n-1 zero. 8K: bit 12 zero, nothing below it.
  EXPECT_EQ(f.make_leaf(0x40002000, 8 * K, R | W),
            0x40002000 | next_level(7) | kIR | kIW | kFC | kPR);
  // 32K (n = 15): bits 13:12 ones, bit 14 zero.
  EXPECT_EQ(f.make_leaf(0x40008000, 32 * K, R),
            0x40008000 | 0x3000 | next_level(7) | kIR | kFC | kPR);
  // 4M at AMD level 2 (n = 22): bits 20:12 ones, bit 21 zero.
  EXPECT_EQ(f.make_leaf(0x40400000, 4 * M, R | W),
            0x40400000 | 0x1ff000 | next_level(7) | kIR | kIW | kFC | kPR);
}

TEST(FormatAmd, DecodesPdes) {
  const Format f = amd();
  Decoded d = f.decode(0x80001000 | next_level(3) | kIR | kIW | kPR, 2);
  EXPECT_EQ(d.kind, DescKind::kTable);
  EXPECT_EQ(d.paddr, 0x80001000u);
  EXPECT_EQ(d.skip, 0u);
  EXPECT_EQ(d.limit, kNoLimit);
  // AMD level 4 straight to level 1: AMD levels 3 and 2 skipped.
  d = f.decode(0x80004000 | next_level(1) | kIR | kPR, 2);
  EXPECT_EQ(d.kind, DescKind::kTable);
  EXPECT_EQ(d.skip, 2u);
  EXPECT_EQ(d.limit, (Perms{.read = true, .write = false, .exec = true}));
  // NextLevel must be below the PDE's own level.
  EXPECT_EQ(f.decode(0x80001000 | next_level(4) | kPR, 2).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x80001000 | next_level(6) | kPR, 2).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x80001000 | next_level(1) | kPR, 5).kind, DescKind::kReserved);
  // PR clear: not present, whatever else is set.
  EXPECT_EQ(f.decode(0x80001000 | next_level(3) | kIR | kIW, 2).kind, DescKind::kEmpty);
}

TEST(FormatAmd, DecodesPtes) {
  const Format f = amd();
  Decoded d = f.decode(0x40001000 | kIR | kIW | kFC | kPR, 5);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x40001000u);
  EXPECT_EQ(d.size, 4 * K);
  EXPECT_EQ(d.replicas, 1u);
  EXPECT_EQ(d.perms, (Perms{.read = true, .write = true, .exec = true}));
  EXPECT_EQ(d.prot, R | W | C);
  d = f.decode(0x40200000 | kIW | kPR, 4);  // write-only, not forced coherent
  EXPECT_EQ(d.size, 2 * M);
  EXPECT_EQ(d.perms, (Perms{.read = false, .write = true, .exec = true}));
  EXPECT_EQ(d.prot, W);
  EXPECT_EQ(f.decode(0x40201000 | kIR | kPR, 4).kind, DescKind::kReserved);  // misaligned 2M
  // NextLevel 7, 32K at AMD level 1: bits 13:12 ones, bit 14 zero; 8 entries.
  d = f.decode(0x40008000 | 0x3000 | next_level(7) | kIR | kPR, 5);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x40008000u);
  EXPECT_EQ(d.size, 32 * K);
  EXPECT_EQ(d.replicas, 8u);
  // 4M at AMD level 2: 2 entries.
  d = f.decode(0x40400000 | 0x1ff000 | next_level(7) | kIR | kPR, 4);
  EXPECT_EQ(d.size, 4 * M);
  EXPECT_EQ(d.replicas, 2u);
}

TEST(FormatAmd, ReservedNextLevel7Sizes) {
  const Format f = amd(64);
  // 8K (bit 12 zero) at AMD level 2: not above that level's 2M.
  EXPECT_EQ(f.decode(0x40400000 | next_level(7) | kIR | kPR, 4).kind, DescKind::kReserved);
  // 2M at AMD level 1 (bits 19:12 ones, bit 20 zero): all 512 entries, the next level's size.
  EXPECT_EQ(f.decode(0x40000000 | 0xff000 | next_level(7) | kIR | kPR, 5).kind,
            DescKind::kReserved);
  // Address bits 51:12 all ones: no zero bit, no size.
  EXPECT_EQ(f.decode(0x000f'ffff'ffff'f000 | next_level(7) | kIR | kPR, 1).kind,
            DescKind::kReserved);
  // A page at AMD level 6.
  EXPECT_EQ(f.decode(0x40000000 | kIR | kPR, 0).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x40000000 | next_level(7) | kIR | kPR, 0).kind, DescKind::kReserved);
}

// Mode 4 (ours 2..5). root[0] -> l3 -> l4 -> l5: a 4K page at 0x1000 and a 64K NextLevel-7
// page at 0x10000; root[1] skips AMD levels 3 and 2 to a level-1 table (iova 2^39 + 0x5000);
// root[3] is read-only (IR without IW) above two 1G pages; root[4] has a NextLevel of its own
// level.
struct AmdTables : ::testing::Test {
  TableMemory mem;
  Format fmt = amd();
  uint64_t root = *mem.alloc(4096), l3 = *mem.alloc(4096), l4 = *mem.alloc(4096),
           l5 = *mem.alloc(4096), skip5 = *mem.alloc(4096), ro3 = *mem.alloc(4096);
  static constexpr uint64_t kSkipIova = uint64_t{1} << 39;
  static constexpr uint64_t kReadOnlyIova = uint64_t{3} << 39;
  // 64K: address bits 14:12 ones, bit 15 zero.
  static constexpr uint64_t k64K = 0x40010000 | 0x7000 | (uint64_t{7} << 9) | kIR | kFC | kPR;

  void SetUp() override {
    ASSERT_EQ(root, 0x80000000u);
    mem.write64(root + 0 * 8, l3 | next_level(3) | kIR | kIW | kPR);
    mem.write64(l3 + 0 * 8, l4 | next_level(2) | kIR | kIW | kPR);
    mem.write64(l4 + 0 * 8, l5 | next_level(1) | kIR | kIW | kPR);
    mem.write64(l5 + 1 * 8, 0x40001000 | kIR | kIW | kFC | kPR);
    for (uint64_t i = 0x10; i < 0x20; i++) mem.write64(l5 + i * 8, k64K);
    mem.write64(root + 1 * 8, skip5 | next_level(1) | kIR | kIW | kPR);
    mem.write64(skip5 + 5 * 8, 0x50005000 | kIR | kIW | kPR);
    mem.write64(root + 3 * 8, ro3 | next_level(3) | kIR | kPR);
    mem.write64(ro3 + 0 * 8, 0xc0000000 | kIR | kIW | kPR);
    mem.write64(ro3 + 1 * 8, 0x100000000 | kIR | kIW | kPR);
    mem.write64(root + 4 * 8, l3 | next_level(4) | kIR | kIW | kPR);
  }
};

TEST_F(AmdTables, WalksFourLevels) {
  WalkResult r = walk(mem, fmt, root, 0x1234);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(*r.leaf(), (Leaf{.iova_base = 0x1000,
                             .paddr_base = 0x40001000,
                             .size = 4 * K,
                             .level = 5,
                             .perms = {.read = true, .write = true, .exec = true}}));
  ASSERT_EQ(r.path.count, 3u);
  EXPECT_EQ(r.path.steps[0], (TableStep{2, 0, root, l3, 3}));
  EXPECT_EQ(r.path.steps[1], (TableStep{3, 0, l3, l4, 4}));
  EXPECT_EQ(r.path.steps[2], (TableStep{4, 0, l4, l5, 5}));
}

TEST_F(AmdTables, NextLevel7PageSpansItsReplicas) {
  WalkResult r = walk(mem, fmt, root, 0x1abcd);
  ASSERT_TRUE(r.leaf()) << fault_reason_name(r.fault()->reason);
  EXPECT_EQ(r.leaf()->iova_base, 0x10000u);
  EXPECT_EQ(r.leaf()->paddr_base, 0x40010000u);
  EXPECT_EQ(r.leaf()->size, 64 * K);
  EXPECT_EQ(r.leaf()->perms, (Perms{.read = true, .write = false, .exec = true}));
  // The dirty bit the IOMMU sets in one replica does not make them disagree.
  mem.write64(l5 + 0x13 * 8, k64K | kD);
  EXPECT_TRUE(walk(mem, fmt, root, 0x1abcd).leaf());
  // Another address in one replica does.
  mem.write64(l5 + 0x13 * 8, k64K + 0x10000);
  r = walk(mem, fmt, root, 0x1abcd);
  ASSERT_TRUE(r.fault());
  EXPECT_EQ(r.fault()->reason, FaultReason::kInconsistent);
  EXPECT_EQ(r.fault()->desc_paddr, l5 + 0x1a * 8);
}

TEST_F(AmdTables, SkippedLevelsNeedZeroIovaBits) {
  WalkResult r = walk(mem, fmt, root, kSkipIova + 0x5678);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->paddr_base, 0x50005000u);
  EXPECT_EQ(r.leaf()->level, 5u);
  ASSERT_EQ(r.path.count, 1u);
  EXPECT_EQ(r.path.steps[0], (TableStep{2, kSkipIova, root + 8, skip5, 5}));
  // Any bit of the skipped levels (iova 38:21) set faults at the skipping PDE.
  for (uint64_t stray : {uint64_t{1} << 21, uint64_t{1} << 30, uint64_t{1} << 38}) {
    r = walk(mem, fmt, root, kSkipIova + stray + 0x5000);
    ASSERT_TRUE(r.fault()) << stray;
    EXPECT_EQ(r.fault()->reason, FaultReason::kAddressSize);
    EXPECT_EQ(r.fault()->level, 2u);
    EXPECT_EQ(r.fault()->desc_paddr, root + 8);
  }
}

TEST_F(AmdTables, PdePermissionsLimitTheLeaf) {
  WalkResult r = walk(mem, fmt, root, kReadOnlyIova + 0x1000);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->size, G);
  EXPECT_EQ(r.leaf()->perms, (Perms{.read = true, .write = false, .exec = true}));
  EXPECT_EQ(r.path.steps[0].limit, (Perms{.read = true, .write = false, .exec = true}));
}

TEST_F(AmdTables, BadNextLevelIsReserved) {
  WalkResult r = walk(mem, fmt, root, uint64_t{4} << 39);
  ASSERT_TRUE(r.fault());
  EXPECT_EQ(r.fault()->reason, FaultReason::kReserved);
  EXPECT_EQ(r.fault()->desc_paddr, root + 4 * 8);
}

TEST_F(AmdTables, WalkCacheKeepsSkipsAndLimits) {
  Device d(mem, fmt, {.ctx = 1});
  d.set_roots(std::span<const uint64_t>(&root, 1));
  ASSERT_TRUE(d.translate(kSkipIova + 0x5000, {}).ok());
  // The cached skipping PDE translates only iovas with zero skipped bits.
  AccessResult stray = d.translate(kSkipIova + (uint64_t{1} << 21) + 0x5000, {});
  ASSERT_FALSE(stray.ok());
  EXPECT_EQ(stray.source, Source::kWalk);
  EXPECT_EQ(stray.fault->reason, FaultReason::kAddressSize);
  // A walk resumed from the read-only PDE's table stays read-only.
  ASSERT_TRUE(d.translate(kReadOnlyIova, {}).ok());
  AccessResult write = d.translate(kReadOnlyIova + G, {.write = true});
  EXPECT_EQ(write.source, Source::kWalkCache);
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.fault->reason, FaultReason::kPermission);
}

TEST_F(AmdTables, DumpFollowsSkipsAndNamesLevels) {
  TableDump dump = dump_tables(mem, fmt, std::span<const uint64_t>(&root, 1));
  ASSERT_EQ(dump.mappings.size(), 4u);
  EXPECT_EQ(format_mapping(dump.mappings[0]), "0x1000-0x1fff -> 0x40001000 rwc 4K L5 (level 1)");
  EXPECT_EQ(format_mapping(dump.mappings[1]), "0x10000-0x1ffff -> 0x40010000 rc 64K L5 (level 1)");
  EXPECT_EQ(format_mapping(dump.mappings[2]),
            "0x8000005000-0x8000005fff -> 0x50005000 rw 4K L5 (level 1)");
  // The two 1G pages below the read-only PDE: read-only, contiguous.
  EXPECT_EQ(format_mapping(dump.mappings[3]),
            "0x18000000000-0x1807fffffff -> 0xc0000000 r 1G L3 (level 3)");
  ASSERT_EQ(dump.malformed.size(), 1u);
  EXPECT_EQ(format_malformed(dump.malformed[0]),
            "malformed: desc 0x80000020 level 2 (level 4) iova 0x20000000000: reserved-encoding "
            "(PDE NextLevel not below the PDE's own level)");
}

}  // namespace
}  // namespace iommu::hw
