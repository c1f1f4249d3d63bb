// Golden RISC-V Sv39/Sv48/Sv57 PTEs, derived by hand from the privileged spec's PTE layout
// (V 0, R 1, W 2, X 3, U 4, G 5, A 6, D 7, PPN 53:10, PBMT 62:61, N 63) and Linux 7.2's
// riscvpt_iommu_set_prot / riscvpt_install_leaf_entry, never from our encoder; then the walker
// over hand-built tables, NAPOT replicas and the reserved encodings.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "hw/format.h"
#include "hw/walker.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE, N = IOMMU_NOEXEC, M = IOMMU_MMIO;
constexpr uint64_t k4K = 1 << 12, k64K = 1 << 16, k2M = 1 << 21, k1G = 1 << 30;

Format sv(unsigned bits) { return make_format({.name = "riscv-sv" + std::to_string(bits)}); }

// A|U = 0x50 always; W brings R and D (0x86); X unless NOEXEC; V. PPN = pa >> 12 << 10.
TEST(FormatRiscv, LeafEncoding) {
  Format f = sv(39);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | C), 0x100000dfu);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | N | C), 0x100000d7u);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, W | C), 0x100000dfu);  // write implies read
  // Svpbmt: no CACHE is NC (PBMT 1), MMIO is IO (PBMT 2).
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R), 0x200000001000005bu);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | M), 0x40000000100000dfu);
  EXPECT_EQ(f.make_leaf(0x40200000, k2M, R | W | C), 0x100800dfu);
  EXPECT_EQ(f.make_leaf(0x80000000, k1G, R | W | C), 0x200000dfu);
  EXPECT_EQ(sv(48).make_leaf(uint64_t{1} << 39, uint64_t{1} << 39, R | W | C), 0x20000000dfu);
  EXPECT_EQ(f.make_table(0x80001000), 0x20000401u);  // V only: R=W=X=0 marks a table
  EXPECT_THROW(f.make_leaf(0x40000000, k4K, N), std::invalid_argument);
}

// N (bit 63) and ppn[3:0] = 0b1000 (bit 13), the same value in all 16 entries.
TEST(FormatRiscv, NapotLeaf) {
  Format f = sv(39);
  EXPECT_EQ(f.make_leaf(0x40010000, k64K, R | W | C), 0x80000000100060dfu);
  EXPECT_EQ(f.replicas(k64K), 16u);
  EXPECT_EQ(f.leaf_level(k64K), 4u);
  Decoded d = f.decode(0x80000000100060df, 4);
  ASSERT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x40010000u);
  EXPECT_EQ(d.size, k64K);
  EXPECT_EQ(d.replicas, 16u);
}

TEST(FormatRiscv, Decode) {
  Format f = sv(39);
  Decoded rw = f.decode(0x100000df, 4);
  ASSERT_EQ(rw.kind, DescKind::kLeaf);
  EXPECT_EQ(rw.paddr, 0x40000000u);
  EXPECT_EQ(rw.size, k4K);
  EXPECT_EQ(rw.prot, R | W | C);
  EXPECT_EQ(rw.perms, (Perms{.read = true, .write = true, .exec = true}));
  EXPECT_EQ(f.decode(0x200000001000005b, 4).prot, R);
  EXPECT_EQ(f.decode(0x40000000100000d7, 4).prot, R | W | N | M);
  EXPECT_EQ(f.decode(0x100000cf, 4).prot, R | W | C | IOMMU_PRIV);  // U clear
  EXPECT_EQ(f.decode(0x100800df, 3).size, k2M);
  EXPECT_EQ(f.decode(0x200000df, 2).size, k1G);
  Decoded table = f.decode(0x20000401, 2);
  ASSERT_EQ(table.kind, DescKind::kTable);
  EXPECT_EQ(table.paddr, 0x80001000u);
  EXPECT_EQ(f.decode(0x20000400, 2).kind, DescKind::kEmpty);  // V clear
  EXPECT_FALSE(f.decode(0x1000009f, 4).af);                   // A clear
  Decoded clean = f.decode(0x1000005f, 4);                    // W without D
  EXPECT_FALSE(clean.perms.write);
  EXPECT_EQ(clean.prot & W, W);
}

TEST(FormatRiscv, ReservedEncodings) {
  Format f = sv(39);
  auto kind = [&](uint64_t desc, unsigned level) { return f.decode(desc, level).kind; };
  EXPECT_EQ(kind(0x100000dd, 4), DescKind::kReserved);          // W without R
  EXPECT_EQ(kind(0x80000000100050df, 4), DescKind::kReserved);  // N, ppn[3:0] = 0b0100
  EXPECT_EQ(kind(0x80000000100040df, 4), DescKind::kReserved);  // N, ppn[3:0] = 0
  EXPECT_EQ(kind(0x80000000100820df, 3), DescKind::kReserved);  // N above the 4K level
  EXPECT_EQ(kind(0x100804df, 3), DescKind::kReserved);          // misaligned 2M superpage
  EXPECT_EQ(kind(0x200400df, 2), DescKind::kReserved);          // misaligned 1G superpage
  EXPECT_EQ(kind(0x60000000100000df, 4), DescKind::kReserved);  // PBMT 3
  EXPECT_EQ(kind(0x00400000100000df, 4), DescKind::kReserved);  // bit 54
  EXPECT_EQ(kind(0x20000441, 2), DescKind::kReserved);          // table with A
  EXPECT_EQ(kind(0x8000000020000401, 2), DescKind::kReserved);  // table with N
  EXPECT_EQ(kind(0x2000000020000401, 2), DescKind::kReserved);  // table with PBMT
  EXPECT_EQ(kind(0x20000401, 4), DescKind::kReserved);          // table at the last level
}

TEST(FormatRiscv, Geometry) {
  Geometry g39 = sv(39).geo(), g48 = sv(48).geo(), g57 = sv(57).geo();
  EXPECT_EQ(g39.start_level, 2u);
  EXPECT_EQ(g48.start_level, 1u);
  EXPECT_EQ(g57.start_level, 0u);
  for (const Geometry* g : {&g39, &g48, &g57}) {
    EXPECT_EQ(g->last_level, 4u);
    EXPECT_EQ(g->pgd_bytes, 4096u);
    EXPECT_EQ(g->oas, 56u);
  }
  EXPECT_EQ(g39.pgsize_bitmap, k4K | k64K | k2M | k1G);
  EXPECT_EQ(g48.pgsize_bitmap, g39.pgsize_bitmap | uint64_t{1} << 39);
  EXPECT_EQ(g57.pgsize_bitmap, g48.pgsize_bitmap | uint64_t{1} << 48);
  EXPECT_EQ(g57.at(0).shift, 48u);
  EXPECT_EQ(g39.index(0x7fc0403000, 2), 0x1ffu);
  EXPECT_EQ(g39.index(0x7fc0403000, 3), 2u);
  EXPECT_EQ(g39.index(0x7fc0403000, 4), 3u);
  EXPECT_THROW(make_format({.name = "riscv-sv39", .ias = 48}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "riscv-sv48", .oas = 57}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "riscv-sv57", .start_level = 1}), std::invalid_argument);
  EXPECT_EQ(make_format({.name = "riscv-sv39", .oas = 40}).geo().oas, 40u);
}

// Sv39: root (level 2) -> level-3 table -> level-4 table, plus 2M and 1G leaves.
struct Sv39Tables : ::testing::Test {
  TableMemory mem;
  Format fmt = make_format({.name = "riscv-sv39"});
  uint64_t root = *mem.alloc(4096);
  uint64_t l3 = *mem.alloc(4096);
  uint64_t l4 = *mem.alloc(4096);

  void SetUp() override {
    ASSERT_EQ(l3, 0x80001000u);
    ASSERT_EQ(l4, 0x80002000u);
    mem.write64(root + 1 * 8, 0x20000401);  // iova 0x40000000: table at 0x80001000
    mem.write64(l3 + 2 * 8, 0x20000801);    // iova 0x40400000: table at 0x80002000
    mem.write64(l4 + 3 * 8, 0x100000df);    // iova 0x40403000: 4K at 0x40000000
    for (uint64_t i = 0x10; i < 0x20; i++) mem.write64(l4 + i * 8, 0x80000000100060df);
    mem.write64(l3 + 5 * 8, 0x100800df);    // iova 0x40a00000: 2M at 0x40200000
    mem.write64(root + 2 * 8, 0x200000df);  // iova 0x80000000: 1G at 0x80000000
  }
};

TEST_F(Sv39Tables, LeavesAtEachLevel) {
  WalkResult small = walk(mem, fmt, root, 0x40403abc);
  ASSERT_TRUE(small.leaf());
  EXPECT_EQ(*small.leaf(), (Leaf{.iova_base = 0x40403000,
                                 .paddr_base = 0x40000000,
                                 .size = k4K,
                                 .level = 4,
                                 .perms = {.read = true, .write = true, .exec = true}}));
  ASSERT_EQ(small.path.count, 2u);
  EXPECT_EQ(small.path.steps[0], (TableStep{2, 0x40000000, 0x80000008, 0x80001000, 3}));
  EXPECT_EQ(small.path.steps[1], (TableStep{3, 0x40400000, 0x80001010, 0x80002000, 4}));
  WalkResult big = walk(mem, fmt, root, 0x40a12345);
  ASSERT_TRUE(big.leaf());
  EXPECT_EQ(big.leaf()->paddr_base, 0x40200000u);
  EXPECT_EQ(big.leaf()->size, k2M);
  WalkResult giant = walk(mem, fmt, root, 0xbfffffff);
  ASSERT_TRUE(giant.leaf());
  EXPECT_EQ(giant.leaf()->iova_base, 0x80000000u);
  EXPECT_EQ(giant.leaf()->level, 2u);
}

TEST_F(Sv39Tables, NapotLeafSpansItsReplicas) {
  WalkResult r = walk(mem, fmt, root, 0x4041f123);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->iova_base, 0x40410000u);
  EXPECT_EQ(r.leaf()->paddr_base, 0x40010000u);
  EXPECT_EQ(r.leaf()->size, k64K);
}

TEST_F(Sv39Tables, NapotReplicasMustAgree) {
  mem.write64(l4 + 0x1a * 8, 0x800000001000a0df);  // one replica names another 64K block
  WalkResult r = walk(mem, fmt, root, 0x40410000);
  ASSERT_TRUE(r.fault());
  EXPECT_EQ(r.fault()->reason, FaultReason::kInconsistent);
  mem.write64(l4 + 0x1a * 8, 0x80000000100060df);
  mem.write64(l4 + 0x1f * 8, 0);  // a missing replica
  EXPECT_EQ(walk(mem, fmt, root, 0x40410000).fault()->reason, FaultReason::kInconsistent);
}

TEST_F(Sv39Tables, Faults) {
  EXPECT_EQ(walk(mem, fmt, root, 0x40404000).fault()->reason, FaultReason::kTranslation);
  mem.write64(l4 + 4 * 8, 0x100000dd);  // W without R
  EXPECT_EQ(walk(mem, fmt, root, 0x40404000).fault()->reason, FaultReason::kReserved);
  mem.write64(l4 + 4 * 8, 0x1000009f);  // A clear
  EXPECT_EQ(walk(mem, fmt, root, 0x40404000).fault()->reason, FaultReason::kPermission);
  mem.write64(l4 + 4 * 8, 0x1000005f);  // D clear: reads go through, writes fault
  const Leaf clean = *walk(mem, fmt, root, 0x40404000).leaf();
  EXPECT_FALSE(check_access(clean, {.write = false}));
  EXPECT_EQ(check_access(clean, {.write = true})->reason, FaultReason::kPermission);
  EXPECT_EQ(walk(mem, fmt, root, uint64_t{1} << 39).fault()->reason, FaultReason::kAddressSize);
  Format oas32 = make_format({.name = "riscv-sv39", .oas = 32});
  mem.write64(root + 3 * 8, 0x400000df);  // 1G at 0x100000000, beyond 32 bits
  EXPECT_EQ(walk(mem, oas32, root, 0xc0000000).fault()->reason, FaultReason::kAddressSize);
  mem.free(l4);
  EXPECT_EQ(walk(mem, fmt, root, 0x40403000).fault()->reason, FaultReason::kBadTable);
}

}  // namespace
}  // namespace iommu::hw
