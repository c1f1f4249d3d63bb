// Golden Apple DART descriptors, derived by hand from io-pgtable-dart.c's field layout
// (HARDWARE.md), never from our encoder.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "hw/format.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE;
constexpr uint64_t k16K = 1 << 14;

// Every leaf: subpage end 0xfff << 40 = 0x000fff0000000000, SP_DIS bit 1, valid bit 0.
TEST(FormatDart, Dart1Pages) {
  Format f = make_format({.name = "apple-dart"});
  EXPECT_EQ(f.make_leaf(0x800004000, k16K, R | W), 0x000fff0800004003u);
  EXPECT_EQ(f.make_leaf(0x800004000, k16K, R), 0x000fff0800004083u);      // NO_WRITE bit 7
  EXPECT_EQ(f.make_leaf(0x800004000, k16K, W), 0x000fff0800004103u);      // NO_READ bit 8
  EXPECT_EQ(f.make_leaf(0x800004000, k16K, R | W | C), 0x000fff0800004003u);
  EXPECT_EQ(f.make_table(0x80008000), 0x0000000080008001u);
  Decoded w = f.decode(0x000fff0800004103, 2);
  ASSERT_EQ(w.kind, DescKind::kLeaf);
  EXPECT_EQ(w.paddr, 0x800004000u);
  EXPECT_EQ(w.perms, (Perms{.read = false, .write = true, .exec = true, .priv_only = false}));
  EXPECT_EQ(w.prot, W);
  EXPECT_EQ(f.decode(0x0000000080008001, 1).paddr, 0x80008000u);
}

TEST(FormatDart, Dart1SubpageOnlyWithoutSpDis) {
  Format f = make_format({.name = "apple-dart"});
  // start 1, end 0xfff: narrower window, SP_DIS clear -> not what Linux writes
  EXPECT_EQ(f.decode(0x001fff0800004001, 2).kind, DescKind::kReserved);
  // same window with SP_DIS set: the window is ignored
  EXPECT_EQ(f.decode(0x001fff0800004003, 2).kind, DescKind::kLeaf);
}

// DART2: PA >> 4 in [37:10]; bit 1 is NO_CACHE, and Linux sets it always (as SP_DIS).
TEST(FormatDart, Dart2Pages) {
  Format f = make_format({.name = "apple-dart2"});
  // 0x300004000 >> 4 = 0x30000400
  EXPECT_EQ(f.make_leaf(0x300004000, k16K, R | W), 0x000fff0030000403u);
  EXPECT_EQ(f.make_leaf(0x300004000, k16K, R), 0x000fff0030000407u);  // NO_WRITE bit 2
  EXPECT_EQ(f.make_leaf(0x300004000, k16K, W), 0x000fff003000040bu);  // NO_READ bit 3
  EXPECT_EQ(f.make_leaf(0x300004000, k16K, R | W | C), 0x000fff0030000403u);
  EXPECT_EQ(f.make_table(0x300008000), 0x0000000030000801u);
  Decoded d = f.decode(0x000fff0030000407, 2);
  ASSERT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x300004000u);
  EXPECT_EQ(d.prot, R);
  EXPECT_EQ(f.decode(0x000fff0030000401, 2).prot, R | W | C);  // bit 1 clear: cached
  EXPECT_EQ(f.decode(0x0000000030000403, 2).kind, DescKind::kReserved);  // subpage end 0
  EXPECT_EQ(f.decode(0x000fff0030000402, 2).kind, DescKind::kEmpty);    // valid clear
}

TEST(FormatDart, Geometry) {
  // 16K granule: 11 bits per level; ias 32 -> one TTBR
  Geometry g = make_format({.name = "apple-dart"}).geo();
  EXPECT_EQ(g.at(1).shift, 25u);
  EXPECT_EQ(g.at(2).shift, 14u);
  EXPECT_EQ(g.n_ttbrs, 1u);
  // ias 36 (the most oas 36 allows): 22 va bits fit two levels, one TTBR
  Geometry g36 = make_format({.name = "apple-dart", .ias = 36}).geo();
  EXPECT_EQ(g36.n_ttbrs, 1u);
  Geometry g4k = make_format({.name = "apple-dart", .ias = 32, .granule = 4096}).geo();
  EXPECT_EQ(g4k.n_ttbrs, 4u);  // 20 va bits - 18
  EXPECT_EQ(g4k.ttbr_shift, 30u);
  EXPECT_EQ(g4k.ttbr_index(0xc0000000), 3u);
  Geometry g2 = make_format({.name = "apple-dart2", .ias = 38}).geo();
  EXPECT_EQ(g2.n_ttbrs, 4u);
  EXPECT_EQ(g2.ttbr_shift, 36u);
  EXPECT_THROW(make_format({.name = "apple-dart2", .granule = 4096}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "apple-dart", .oas = 40}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "apple-dart", .oas = 42}), std::invalid_argument)
      << "DART1 descriptors hold PA bits 35:12 only";
  EXPECT_EQ(make_format({.name = "apple-dart2", .oas = 36}).geo().oas, 36u);
  EXPECT_THROW(make_format({.name = "apple-dart", .ias = 37}), std::invalid_argument);
}

}  // namespace
}  // namespace iommu::hw
