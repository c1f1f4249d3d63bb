// Golden ARMv7 short descriptors, derived by hand from the attribute layout in HARDWARE.md and
// Linux 6.12's arm_v7s_prot_to_pte / arm_v7s_pte_to_cont, never from our encoder.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "hw/format.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE, N = IOMMU_NOEXEC,
              M = IOMMU_MMIO, P = IOMMU_PRIV;
constexpr uint64_t k4K = 1 << 12, k64K = 1 << 16, k1M = 1 << 20, k16M = 1 << 24;

Format v7s() { return make_format({.name = "arm-v7s"}); }

// Level-2 attributes sit at [11:4]: nG 0x80, S 0x40, TEX=1 0x04, AP1 unpriv 0x02, AP0/AF 0x01
// give 0xc7 << 4 = 0xc70; small page type 0b10.
TEST(FormatV7s, SmallPagePermissions) {
  Format f = v7s();
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W), 0x40000c72u);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R), 0x40000e72u);          // AP2 0x20 << 4
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | N), 0x40000c73u);  // XN is bit 0 at level 2
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | C), 0x40000c7eu);  // B 0x4 | C 0x8
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | M), 0x40000c36u);  // TEX 0, B only
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | P), 0x40000c52u);  // no AP1
}

// Level-1 attributes sit at [17:10]: 0xc7 << 10 = 0x31c00; section type 0b10, XN bit 4.
TEST(FormatV7s, SectionsAndTables) {
  Format f = v7s();
  EXPECT_EQ(f.make_leaf(0x40100000, k1M, R | W), 0x40131c02u);
  EXPECT_EQ(f.make_leaf(0x40100000, k1M, R | W | N), 0x40131c12u);
  // supersection: bit 18
  EXPECT_EQ(f.make_leaf(0x41000000, k16M, R | W), 0x41071c02u);
  EXPECT_EQ(f.replicas(k16M), 16u);
  EXPECT_EQ(f.make_table(0x40000400), 0x40000401u);
}

// Large page: TEX moves from [8:6] to [14:12], XN from bit 0 to bit 15, type 0b01.
TEST(FormatV7s, LargePages) {
  Format f = v7s();
  EXPECT_EQ(f.make_leaf(0x40010000, k64K, R | W), 0x40011c31u);
  EXPECT_EQ(f.make_leaf(0x40010000, k64K, R | W | N), 0x40019c31u);
  EXPECT_EQ(f.make_leaf(0x40010000, k64K, R | W | M), 0x40010c35u);  // TEX 0, B
  EXPECT_EQ(f.replicas(k64K), 16u);
  EXPECT_EQ(f.leaf_level(k64K), 2u);
}

TEST(FormatV7s, Decode) {
  Format f = v7s();
  Decoded large = f.decode(0x40019c31, 2);
  ASSERT_EQ(large.kind, DescKind::kLeaf);
  EXPECT_EQ(large.paddr, 0x40010000u);
  EXPECT_EQ(large.size, k64K);
  EXPECT_EQ(large.replicas, 16u);
  EXPECT_EQ(large.prot, R | W | N);
  Decoded mmio = f.decode(0x40000c36, 2);
  EXPECT_EQ(mmio.prot, R | W | M);
  Decoded ro_priv = f.decode(0x40000e5e, 2);  // attr 0xe5: AP2, no AP1; B|C
  EXPECT_EQ(ro_priv.perms, (Perms{.read = true, .write = false, .exec = true, .priv_only = true}));
  EXPECT_EQ(ro_priv.prot, R | C | P);
  Decoded super = f.decode(0x41071c02, 1);
  EXPECT_EQ(super.paddr, 0x41000000u);
  EXPECT_EQ(super.replicas, 16u);
  Decoded table = f.decode(0x40000401, 1);
  ASSERT_EQ(table.kind, DescKind::kTable);
  EXPECT_EQ(table.paddr, 0x40000400u);
  EXPECT_EQ(f.decode(0x40131c03, 1).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0, 1).kind, DescKind::kEmpty);
  EXPECT_FALSE(f.decode(0x40000c62, 2).af);  // 0xc72 without AP0 (0x10)
}

TEST(FormatV7s, Geometry) {
  Geometry g = v7s().geo();
  EXPECT_EQ(g.desc_bytes, 4u);
  EXPECT_EQ(g.pgd_bytes, 16384u);
  EXPECT_EQ(g.at(2).table_bytes, 1024u);
  EXPECT_EQ(g.index(0x12345678, 1), 0x123u);
  EXPECT_EQ(g.index(0x12345678, 2), 0x45u);
  EXPECT_EQ(make_format({.name = "arm-v7s", .ias = 30}).geo().pgd_bytes, 4096u);
  EXPECT_THROW(make_format({.name = "arm-v7s", .ias = 33}), std::invalid_argument);
}

}  // namespace
}  // namespace iommu::hw
