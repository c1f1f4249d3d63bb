// Golden LPAE descriptors, each derived by hand from the architecture rules (HARDWARE.md) and
// Linux 6.12's arm_lpae_prot_to_pte, never from our encoder.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "hw/format.h"

namespace iommu::hw {
namespace {

Format fmt(const char* name, unsigned ias = 0, unsigned oas = 0) {
  return make_format({.name = name, .ias = ias, .oas = oas});
}

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE, N = IOMMU_NOEXEC,
              M = IOMMU_MMIO, P = IOMMU_PRIV;
constexpr uint64_t k4K = 1 << 12, k2M = 1 << 21, k1G = 1 << 30, k64K = 1 << 16;

TEST(FormatLpae, Stage1PagePermissions) {
  Format f = fmt("arm-64-lpae-s1-4k");
  // nG 0x800 | AF 0x400 | SH=OS 0x200 | AP[1] unpriv 0x40 | AttrIndx 0 | type page 3
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W), 0x0000000040000e43u);
  // ... | AP[2] read-only 0x80
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R), 0x0000000040000ec3u);
  // write-only is not expressible at stage 1: Linux leaves AP[2] clear
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, W), 0x0000000040000e43u);
  // AttrIndx 1 (0x4) and SH=IS (0x300) for CACHE
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | C), 0x0000000040000f47u);
  // AttrIndx 2 (0x8) for MMIO, SH stays OS
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | M), 0x0000000040000e4bu);
  // XN = bits 54:53
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | N), 0x0060000040000e43u);
  // PRIV drops AP[1]
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | P), 0x0000000040000e03u);
}

TEST(FormatLpae, Stage1BlocksAndTable) {
  Format f = fmt("arm-64-lpae-s1-4k");
  // block type 0b01 at levels 1 and 2
  EXPECT_EQ(f.make_leaf(0x40200000, k2M, R | W), 0x0000000040200e41u);
  EXPECT_EQ(f.make_leaf(0x80000000, k1G, R | W), 0x0000000080000e41u);
  EXPECT_EQ(f.leaf_level(k2M), 2u);
  EXPECT_EQ(f.leaf_level(k1G), 1u);
  EXPECT_EQ(f.make_table(0x80001000), 0x0000000080001003u);
}

TEST(FormatLpae, Stage1Decode) {
  Format f = fmt("arm-64-lpae-s1-4k");
  Decoded d = f.decode(0x0060000040000ec3, 3);  // read-only, unpriv, XN page
  ASSERT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x40000000u);
  EXPECT_EQ(d.size, k4K);
  EXPECT_EQ(d.perms, (Perms{.read = true, .write = false, .exec = false, .priv_only = false}));
  EXPECT_EQ(d.prot, R | N);
  Decoded priv = f.decode(0x0000000040000f07, 3);  // rw, priv (AP[1]=0), cache
  EXPECT_EQ(priv.perms, (Perms{.read = true, .write = true, .exec = true, .priv_only = true}));
  EXPECT_EQ(priv.prot, R | W | C | P);
  Decoded table = f.decode(0x0000000080001003, 0);
  ASSERT_EQ(table.kind, DescKind::kTable);
  EXPECT_EQ(table.paddr, 0x80001000u);
  EXPECT_EQ(f.decode(0, 2).kind, DescKind::kEmpty);
  EXPECT_EQ(f.decode(0x0000000040000e42, 3).kind, DescKind::kEmpty);  // bit 0 clear
  Decoded no_af = f.decode(0x0000000040000a43, 3);                   // AF (0x400) clear
  EXPECT_FALSE(no_af.af);
}

TEST(FormatLpae, ReservedEncodings) {
  Format f = fmt("arm-64-lpae-s1-4k");
  EXPECT_EQ(f.decode(0x0000000040000e41, 3).kind, DescKind::kReserved);  // 0b01 at level 3
  EXPECT_EQ(f.decode(0x0000000000000e41, 0).kind, DescKind::kReserved);  // no 512G block
  EXPECT_EQ(f.decode(0x0000000040001e41, 2).kind, DescKind::kReserved);  // 2M block, PA bit 12
  Format f16 = fmt("arm-64-lpae-s1-16k");
  EXPECT_EQ(f16.decode(0x0000001000000e41, 1).kind, DescKind::kReserved);  // no 64G block
  EXPECT_EQ(f16.decode(0x0000000040001003, 2).kind, DescKind::kReserved);  // table PA bit 12
}

TEST(FormatLpae, Stage2Permissions) {
  Format f = fmt("arm-64-lpae-s2-4k");
  // AF 0x400 | SH=OS 0x200 | HAP r 0x40 w 0x80 | MemAttr NC 0x5<<2 = 0x14 | type 3
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W), 0x00000000400006d7u);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R), 0x0000000040000657u);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, W), 0x0000000040000697u);
  // MemAttr 0xf<<2 = 0x3c, SH=IS 0x300
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | C), 0x00000000400007ffu);
  // MemAttr 0x1<<2 = 0x4
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | M), 0x00000000400006c7u);
  // no nG, no AP[1] at stage 2: PRIV changes nothing
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | P), 0x00000000400006d7u);
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | N), 0x00600000400006d7u);
  Decoded w = f.decode(0x0000000040000697, 3);
  EXPECT_EQ(w.perms, (Perms{.read = false, .write = true, .exec = true, .priv_only = false}));
  EXPECT_EQ(w.prot, W);
  EXPECT_EQ(f.decode(0x00000000400007ff, 3).prot, R | W | C);
  EXPECT_EQ(f.decode(0x00000000400006c7, 3).prot, R | W | M);
}

TEST(FormatLpae, Pa52With64kGranule) {
  Format f = fmt("arm-64-lpae-s2-64k", 52, 52);
  // PA[51:48] = 0xf goes to PTE[15:12]: 0x40010000 | 0xf000, then rw NC page bits 0x6d7
  EXPECT_EQ(f.make_leaf(0x000f000040010000, k64K, R | W), 0x000000004001f6d7u);
  Decoded d = f.decode(0x000000004001f6d7, 3);
  ASSERT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x000f000040010000u);
  // table at PA 0x0008000000020000: 0x20000 | (0x8 << 12) | 3
  EXPECT_EQ(f.make_table(0x0008000000020000), 0x0000000000028003u);
  EXPECT_EQ(f.decode(0x0000000000028003, 2).paddr, 0x0008000000020000u);
  // the 4T level-1 block exists only with oas > 48
  EXPECT_EQ(f.geo().pgsize_bitmap, (1ull << 16) | (1ull << 29) | (1ull << 42));
  EXPECT_EQ(fmt("arm-64-lpae-s2-64k", 48, 48).geo().pgsize_bitmap, (1ull << 16) | (1ull << 29));
}

TEST(FormatLpae, MaliPagesAreType01WithoutAf) {
  Format f = fmt("arm-mali-lpae");
  // HAP-like r 0x40 w 0x80 | SH=OS 0x200 | no AF | type 0b01 even at level 3
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W), 0x00000000400002c1u);
  // CACHE: AttrIndx 1, but SH stays OS on Mali
  EXPECT_EQ(f.make_leaf(0x40000000, k4K, R | W | C), 0x00000000400002c5u);
  Decoded d = f.decode(0x00000000400002c1, 3);
  ASSERT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_TRUE(d.af);
  EXPECT_EQ(d.prot, R | W);
  EXPECT_EQ(f.decode(0x00000000400002c3, 3).kind, DescKind::kReserved);
}

TEST(FormatLpae, Arm32Formats) {
  Format s1 = fmt("arm-32-lpae-s1");
  EXPECT_EQ(s1.make_leaf(0xff00000000, k4K, R | W), 0x000000ff00000e43u);  // 40-bit oas
  EXPECT_EQ(s1.geo().start_level, 1u);
  Format s2 = fmt("arm-32-lpae-s2");
  EXPECT_EQ(s2.make_leaf(0x40000000, k2M, R | W), 0x00000000400006d5u);  // block: type 1
}

TEST(FormatLpae, Geometry4k) {
  Geometry g = fmt("arm-64-lpae-s1-4k").geo();
  EXPECT_EQ(g.start_level, 0u);
  EXPECT_EQ(g.pgd_bytes, 4096u);
  EXPECT_EQ(g.at(0).shift, 39u);
  EXPECT_EQ(g.at(1).shift, 30u);
  EXPECT_EQ(g.at(2).shift, 21u);
  EXPECT_EQ(g.at(3).shift, 12u);
  EXPECT_EQ(g.at(0).leaf_size, 0u);
  EXPECT_EQ(g.at(1).leaf_size, k1G);
  // ias 32: 20 va bits -> 3 levels, a 4-entry (32-byte) level-1 PGD
  Geometry g32 = fmt("arm-64-lpae-s1-4k", 32, 40).geo();
  EXPECT_EQ(g32.start_level, 1u);
  EXPECT_EQ(g32.at(1).index_bits, 2u);
  EXPECT_EQ(g32.pgd_bytes, 32u);
  // Mali walks 4 levels whatever the ias: a one-entry level 0
  Geometry mali = fmt("arm-mali-lpae", 32, 40).geo();
  EXPECT_EQ(mali.start_level, 0u);
  EXPECT_EQ(mali.at(0).index_bits, 0u);
}

TEST(FormatLpae, Stage2ConcatenatedPgd) {
  // ias 40: level 0 would have 2 entries -> 2 concatenated level-1 tables (8K, 10 index bits)
  Geometry g40 = fmt("arm-64-lpae-s2-4k", 40, 40).geo();
  EXPECT_EQ(g40.start_level, 1u);
  EXPECT_EQ(g40.pgd_concat, 2u);
  EXPECT_EQ(g40.at(1).index_bits, 10u);
  EXPECT_EQ(g40.pgd_bytes, 8192u);
  // ias 42: 8 entries -> 8 tables, 32K
  Geometry g42 = fmt("arm-64-lpae-s2-4k", 42, 42).geo();
  EXPECT_EQ(g42.pgd_concat, 8u);
  EXPECT_EQ(g42.pgd_bytes, 32768u);
  // ias 44: 32 entries > 16: no concatenation, a 256-byte level-0 table
  Geometry g44 = fmt("arm-64-lpae-s2-4k", 44, 44).geo();
  EXPECT_EQ(g44.start_level, 0u);
  EXPECT_EQ(g44.pgd_bytes, 256u);
  // 16K, ias 48: 34 va bits -> 4 levels, 2-entry level 0 -> 2 x 16K at level 1
  Geometry g16 = fmt("arm-64-lpae-s2-16k").geo();
  EXPECT_EQ(g16.start_level, 1u);
  EXPECT_EQ(g16.pgd_bytes, 32768u);
  // 64K, ias 52: already 3 levels, start 1, a 1024-entry PGD
  Geometry g64 = fmt("arm-64-lpae-s2-64k", 52, 52).geo();
  EXPECT_EQ(g64.start_level, 1u);
  EXPECT_EQ(g64.pgd_concat, 1u);
  EXPECT_EQ(g64.pgd_bytes, 8192u);
  // stage 1 never concatenates
  EXPECT_EQ(fmt("arm-64-lpae-s1-4k", 40, 40).geo().start_level, 0u);
}

Geometry s2_geo(const char* name, unsigned ias, unsigned oas, std::optional<unsigned> start) {
  return make_format({.name = name, .ias = ias, .oas = oas, .start_level = start}).geo();
}

// The message make_format throws for a start level, or "" when it takes it.
std::string start_error(const char* name, unsigned ias, unsigned start) {
  try {
    make_format({.name = name, .ias = ias, .start_level = start});
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(FormatLpae, Stage2ExplicitStartLevel) {
  // Linux 7.x keeps the 2-entry level 0 of ias 40 unless the oas makes concatenation mandatory.
  Geometry l0 = s2_geo("arm-64-lpae-s2-4k", 40, 48, 0);
  EXPECT_EQ(l0.start_level, 0u);
  EXPECT_EQ(l0.pgd_concat, 1u);
  EXPECT_EQ(l0.at(0).index_bits, 1u);
  EXPECT_EQ(l0.at(0).shift, 39u);
  EXPECT_EQ(l0.pgd_bytes, 16u);
  EXPECT_EQ(l0.at(1).index_bits, 9u);
  // Asking for the default's level gives the default's geometry: concatenation is derived.
  Geometry l1 = s2_geo("arm-64-lpae-s2-4k", 40, 48, 1);
  Geometry dflt = s2_geo("arm-64-lpae-s2-4k", 40, 48, std::nullopt);
  EXPECT_EQ(l1.start_level, 1u);
  EXPECT_EQ(l1.pgd_concat, 2u);
  EXPECT_EQ(l1.at(1).index_bits, 10u);
  EXPECT_EQ(l1.pgd_bytes, dflt.pgd_bytes);
  EXPECT_EQ(dflt.start_level, 1u);
  // ias 42: 8 level-0 entries, or 8 concatenated level-1 tables.
  EXPECT_EQ(s2_geo("arm-64-lpae-s2-4k", 42, 42, 0).pgd_bytes, 64u);
  EXPECT_EQ(s2_geo("arm-64-lpae-s2-4k", 42, 42, 1).pgd_concat, 8u);
  // 16K, ias 40 (7.x, oas 40): the 16-entry level 1 becomes 16 concatenated level-2 tables;
  // 6.12 concatenates only from level 0, so its default keeps level 1.
  Geometry c16 = s2_geo("arm-64-lpae-s2-16k", 40, 40, 2);
  EXPECT_EQ(c16.start_level, 2u);
  EXPECT_EQ(c16.pgd_concat, 16u);
  EXPECT_EQ(c16.at(2).index_bits, 15u);
  EXPECT_EQ(c16.pgd_bytes, 16u * 16384);
  EXPECT_EQ(s2_geo("arm-64-lpae-s2-16k", 40, 40, std::nullopt).start_level, 1u);
  EXPECT_EQ(s2_geo("arm-64-lpae-s2-16k", 40, 40, std::nullopt).pgd_concat, 1u);
  // Formats with no choice take their own start level.
  EXPECT_EQ(s2_geo("arm-64-lpae-s1-4k", 48, 48, 0).start_level, 0u);
  EXPECT_EQ(s2_geo("arm-mali-lpae", 32, 40, 0).start_level, 0u);
}

TEST(FormatLpae, StartLevelsTheFormatCannotHave) {
  EXPECT_EQ(start_error("arm-64-lpae-s2-4k", 40, 2),
            "start level 2 not possible at ias 40: this format starts at level 0, or level 1 "
            "with 2 concatenated tables");
  // 512 level-0 entries: more than 16 tables to concatenate.
  EXPECT_EQ(start_error("arm-64-lpae-s2-4k", 48, 1),
            "start level 1 not possible at ias 48: this format starts at level 0");
  // Stage 1 never concatenates; nor does a walk that would start at the last level.
  EXPECT_EQ(start_error("arm-64-lpae-s1-4k", 40, 1),
            "start level 1 not possible at ias 40: this format starts at level 0");
  EXPECT_EQ(start_error("arm-64-lpae-s2-64k", 32, 3),
            "start level 3 not possible at ias 32: this format starts at level 2");
  EXPECT_EQ(start_error("arm-mali-lpae", 32, 1),
            "start level 1 not possible at ias 32: this format starts at level 0");
  EXPECT_EQ(start_error("arm-v7s", 32, 0),
            "start level 0 not possible: this format starts at level 1");
  EXPECT_EQ(start_error("apple-dart", 32, 1), "");
  EXPECT_EQ(start_error("arm-64-lpae-s2-4k", 40, 7).substr(0, 31),
            "start level 7 not possible at i");
}

TEST(FormatLpae, LimitsAndNames) {
  EXPECT_THROW(fmt("arm-64-lpae-s1-4k", 49), std::invalid_argument);
  EXPECT_THROW(fmt("arm-64-lpae-s1-4k", 48, 52), std::invalid_argument);
  EXPECT_THROW(fmt("arm-64-lpae-s1-4k", 48, 41), std::invalid_argument);
  EXPECT_THROW(fmt("arm-32-lpae-s1", 33), std::invalid_argument);
  try {
    fmt("arm-64-lpae-s1-8k");
    FAIL() << "unknown format accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("arm-64-lpae-s2-64k"), std::string::npos) << e.what();
  }
  EXPECT_EQ(format_names().size(), 18u);
}

}  // namespace
}  // namespace iommu::hw
