// vtd-ss and x86-64: geometry, Linux 6.12's encoding and the hardware's decoding, checked
// against values composed by hand from the VT-d specification (3.x, 9.8 "Second-Stage Paging
// Entries") and the Intel SDM (vol. 3A, 4.5 "4-Level Paging and 5-Level Paging"), then the
// walker and the dump over hand-built tables.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "hw/dump.h"
#include "hw/walker.h"

namespace iommu::hw {
namespace {

constexpr int R = IOMMU_READ, W = IOMMU_WRITE, C = IOMMU_CACHE, N = IOMMU_NOEXEC, P = IOMMU_PRIV;
constexpr uint64_t K = 1024, M = K * K, G = M * K;
constexpr uint64_t b(unsigned n) { return uint64_t{1} << n; }

// VT-d 9.8, the SS-PML5E/SS-PML4E/SS-PDPE/SS-PDE/SS-PTE format tables: R bit 0, W bit 1, PS
// bit 7 (SS-PDPE and SS-PDE: maps a 1G or 2M page), SNP bit 11, address bits 51:12.
constexpr uint64_t kSsR = b(0), kSsW = b(1), kSsPs = b(7), kSsSnp = b(11);
// SDM 4.5, the tables "Format of a PML5 Entry" .. "Format of a 4-KByte Page Table Entry":
// P bit 0, R/W bit 1, U/S bit 2, A bit 5, D bit 6, PS bit 7 (PDPTE and PDE), PAT bit 12 in a
// 2M or 1G entry, XD bit 63.
constexpr uint64_t kP = b(0), kRw = b(1), kUs = b(2), kA = b(5), kD = b(6), kPs = b(7),
                   kPat = b(12), kXd = b(63);

Format vtd(unsigned ias = 0) { return make_format({.name = "vtd-ss", .ias = ias}); }
Format x86(unsigned ias = 0) { return make_format({.name = "x86-64", .ias = ias}); }

TEST(FormatX86, GeometryOf4And5Levels) {
  for (const char* name : {"vtd-ss", "x86-64"}) {
    const Geometry g4 = make_format({.name = name}).geo();  // ias 48
    EXPECT_EQ(g4.start_level, 1u) << name;                  // PML4
    EXPECT_EQ(g4.last_level, 4u);                           // PT
    EXPECT_EQ(g4.oas, 52u);
    EXPECT_EQ(g4.pgsize_bitmap, 4 * K | 2 * M | G);
    EXPECT_EQ(g4.at(1).shift, 39u);
    EXPECT_EQ(g4.at(4).shift, 12u);
    EXPECT_EQ(g4.at(1).leaf_size, 0u);
    EXPECT_EQ(g4.at(2).leaf_size, G);
    EXPECT_EQ(g4.at(3).leaf_size, 2 * M);
    EXPECT_EQ(g4.at(4).leaf_size, 4 * K);
    EXPECT_FALSE(g4.at(4).has_tables);
    const Geometry g5 = make_format({.name = name, .ias = 57}).geo();
    EXPECT_EQ(g5.start_level, 0u);  // PML5
    EXPECT_EQ(g5.at(0).shift, 48u);
    EXPECT_EQ(g5.at(0).index_bits, 9u);
  }
  EXPECT_EQ(x86().leaf_level(G), 2u);
  EXPECT_EQ(x86().leaf_level(2 * M), 3u);
}

TEST(FormatX86, LimitsNameWhatIsAccepted) {
  try {
    vtd(39);
    FAIL() << "ias 39 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "ias 39 not supported: vtd-ss takes 48 (4-level) or 57 (5-level)");
  }
  try {
    x86(52);
    FAIL() << "ias 52 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "ias 52 not supported: x86-64 takes 48 (4-level) or 57 (5-level)");
  }
  EXPECT_THROW(make_format({.name = "vtd-ss", .oas = 53}), std::invalid_argument);
  EXPECT_THROW(make_format({.name = "x86-64", .oas = 31}), std::invalid_argument);
}

TEST(FormatX86, VtdSsEncodesAsLinux) {
  const Format f = vtd();
  // pfn_to_dma_pte: DMA_PTE_READ | DMA_PTE_WRITE.
  EXPECT_EQ(f.make_table(0x80001000, 1), 0x80001000 | kSsR | kSsW);
  // __domain_mapping: R/W from prot, DMA_PTE_LARGE_PAGE above 4K, no SNP by default.
  EXPECT_EQ(f.make_leaf(0x40001000, 4 * K, R | W), 0x40001000 | kSsR | kSsW);
  EXPECT_EQ(f.make_leaf(0x40200000, 2 * M, R | C), 0x40200000 | kSsR | kSsPs);
  EXPECT_EQ(f.make_leaf(0x40000000, G, W), 0x40000000 | kSsW | kSsPs);
}

TEST(FormatX86, X86EncodesAsLinuxFirstLevel) {
  const Format f = x86();
  // pfn_to_dma_pte, first level: READ (P) | WRITE (R/W) | US | ACCESS.
  EXPECT_EQ(f.make_table(0x80001000, 1), 0x80001000 | kP | kRw | kUs | kA);
  // __domain_mapping, first level: PRESENT | US | ACCESS, and R/W | DIRTY with WRITE.
  EXPECT_EQ(f.make_leaf(0x40001000, 4 * K, R | W), 0x40001000 | kP | kRw | kUs | kA | kD);
  EXPECT_EQ(f.make_leaf(0x40200000, 2 * M, R), 0x40200000 | kP | kUs | kA | kPs);
  // Write without read: Linux writes a read-write entry (x86 has no write-only page).
  EXPECT_EQ(f.make_leaf(0x40000000, G, W), 0x40000000 | kP | kRw | kUs | kA | kD | kPs);
  // Linux 6.12 writes no XD: IOMMU_NOEXEC is not expressed.
  EXPECT_EQ(f.make_leaf(0x40001000, 4 * K, R | N), 0x40001000 | kP | kUs | kA);
}

TEST(FormatX86, VtdSsDecodes) {
  const Format f = vtd();
  // R = W = 0 is not present, whatever else is set.
  EXPECT_EQ(f.decode(0x40001000 | kSsPs | kSsSnp, 3).kind, DescKind::kEmpty);
  Decoded d = f.decode(0x80002000 | kSsR, 2);
  EXPECT_EQ(d.kind, DescKind::kTable);
  EXPECT_EQ(d.paddr, 0x80002000u);
  EXPECT_EQ(d.limit, (Perms{.read = true, .write = false, .exec = true}));
  d = f.decode(0x40200000 | kSsW | kSsPs | kSsSnp, 3);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.size, 2 * M);
  EXPECT_EQ(d.paddr, 0x40200000u);
  EXPECT_EQ(d.perms, (Perms{.read = false, .write = true, .exec = true}));  // write-only
  EXPECT_EQ(d.prot, W | C);
  d = f.decode(0x40000000 | kSsR | kSsPs, 2);
  EXPECT_EQ(d.size, G);
  EXPECT_EQ(d.prot, R);
  // Bit 7 of an SS-PTE is not PS: still a 4K page.
  d = f.decode(0x40001000 | kSsR | kSsW | b(7), 4);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.size, 4 * K);
  // PS in an SS-PML4E, address bits below a 2M page: reserved.
  EXPECT_EQ(f.decode(0x40000000 | kSsR | kSsPs, 1).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x40201000 | kSsR | kSsPs, 3).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x40100000 | kSsR | kSsPs, 2).kind, DescKind::kReserved);
}

TEST(FormatX86, X86Decodes) {
  const Format f = x86();
  EXPECT_EQ(f.decode(0x40001000 | kRw | kUs | kA, 4).kind, DescKind::kEmpty);  // P clear
  Decoded d = f.decode(0x40001000 | kP | kUs | kA, 4);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.perms, (Perms{.read = true, .write = false, .exec = true}));  // R/W 0: read-only
  EXPECT_EQ(d.prot, R);
  d = f.decode(0x40001000 | kP | kRw | kXd, 4);  // supervisor-only, no execute
  EXPECT_EQ(d.perms, (Perms{.read = true, .write = true, .exec = false, .priv_only = true}));
  EXPECT_EQ(d.prot, R | W | N | P);
  // Bit 12 of a 2M entry is PAT, not an address bit.
  d = f.decode(0x40200000 | kPat | kP | kRw | kUs | kPs, 3);
  EXPECT_EQ(d.kind, DescKind::kLeaf);
  EXPECT_EQ(d.paddr, 0x40200000u);
  EXPECT_EQ(d.size, 2 * M);
  EXPECT_EQ(f.decode(0x40000000 | kPat | kP | kUs | kPs, 2).size, G);
  // Bits 20:13 of a 2M entry, 29:13 of a 1G entry are reserved; so is PS in a PML4E.
  EXPECT_EQ(f.decode(0x40202000 | kP | kUs | kPs, 3).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x40100000 | kP | kUs | kPs, 2).kind, DescKind::kReserved);
  EXPECT_EQ(f.decode(0x40000000 | kP | kUs | kPs, 1).kind, DescKind::kReserved);
  d = f.decode(0x80001000 | kP | kUs | kXd, 2);  // a table: read-only, no execute below
  EXPECT_EQ(d.kind, DescKind::kTable);
  EXPECT_EQ(d.limit, (Perms{.read = true, .write = false, .exec = false}));
}

// 4-level x86-64: PML4 -> PDPT -> PD -> PT with a 4K page at 0x1000; PDPT[1] a 1G page;
// PML4[1] read-only and supervisor-only over a PDPT whose 2M page is writable.
struct X86Tables : ::testing::Test {
  TableMemory mem;
  Format fmt = x86();
  uint64_t pml4 = *mem.alloc(4096), pdpt = *mem.alloc(4096), pd = *mem.alloc(4096),
           pt = *mem.alloc(4096), pdpt_ro = *mem.alloc(4096), pd_ro = *mem.alloc(4096);
  static constexpr uint64_t kTable = kP | kRw | kUs | kA;

  void SetUp() override {
    mem.write64(pml4, pdpt | kTable);
    mem.write64(pdpt, pd | kTable);
    mem.write64(pd, pt | kTable);
    mem.write64(pt + 8, 0x40001000 | kP | kRw | kUs | kA | kD);
    mem.write64(pdpt + 8, 0x80000000 | kP | kUs | kA | kPs);
    mem.write64(pml4 + 8, pdpt_ro | kP | kA);
    mem.write64(pdpt_ro, pd_ro | kTable);
    mem.write64(pd_ro, 0x40200000 | kP | kRw | kUs | kA | kD | kPs);
  }
};

TEST_F(X86Tables, WalksToPagesOfEachSize) {
  WalkResult r = walk(mem, fmt, pml4, 0x1234);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(*r.leaf(), (Leaf{.iova_base = 0x1000,
                             .paddr_base = 0x40001000,
                             .size = 4 * K,
                             .level = 4,
                             .perms = {.read = true, .write = true, .exec = true}}));
  ASSERT_EQ(r.path.count, 3u);
  EXPECT_EQ(r.path.steps[2], (TableStep{3, 0, pd + 0, pt, 4}));
  r = walk(mem, fmt, pml4, G + 0x1234);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->size, G);
  EXPECT_EQ(r.leaf()->level, 2u);
  EXPECT_FALSE(r.leaf()->perms.write);
  EXPECT_EQ(walk(mem, fmt, pml4, 0x2000).fault()->reason, FaultReason::kTranslation);
  EXPECT_EQ(walk(mem, fmt, pml4, b(48)).fault()->reason, FaultReason::kAddressSize);
}

TEST_F(X86Tables, TableBitsLimitTheLeaf) {
  WalkResult r = walk(mem, fmt, pml4, b(39) + 0x1000);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->size, 2 * M);
  EXPECT_EQ(r.leaf()->perms,
            (Perms{.read = true, .write = false, .exec = true, .priv_only = true}));
  TableDump dump = dump_tables(mem, fmt, std::span<const uint64_t>(&pml4, 1));
  ASSERT_EQ(dump.mappings.size(), 3u);
  EXPECT_EQ(format_mapping(dump.mappings[0]), "0x1000-0x1fff -> 0x40001000 rw 4K L4 (PT)");
  EXPECT_EQ(format_mapping(dump.mappings[1]), "0x40000000-0x7fffffff -> 0x80000000 r 1G L2 (PDPT)");
  EXPECT_EQ(format_mapping(dump.mappings[2]),
            "0x8000000000-0x80001fffff -> 0x40200000 rp 2M L3 (PD)");
}

TEST(X86Walk, FiveLevelsAndVtdSsLimits) {
  TableMemory mem;
  const Format f5 = x86(57);
  uint64_t t[5];
  for (uint64_t& a : t) a = *mem.alloc(4096);
  for (unsigned l = 0; l < 4; l++) mem.write64(t[l] + 8, t[l + 1] | kP | kRw | kUs | kA);
  mem.write64(t[4] + 8, 0x40001000 | kP | kRw | kUs | kA);
  const uint64_t iova = b(48) | b(39) | b(30) | b(21) | b(12);
  WalkResult r = walk(mem, f5, t[0], iova);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->level, 4u);
  EXPECT_EQ(r.path.count, 4u);
  // The same layout as vtd-ss tables: W clear in the PD's table entry makes its page read-only.
  const Format v5 = vtd(57);
  for (unsigned l = 0; l < 4; l++) mem.write64(t[l] + 8, t[l + 1] | (l == 3 ? kSsR : kSsR | kSsW));
  mem.write64(t[4] + 8, 0x40001000 | kSsR | kSsW);
  r = walk(mem, v5, t[0], iova);
  ASSERT_TRUE(r.leaf());
  EXPECT_EQ(r.leaf()->perms, (Perms{.read = true, .write = false, .exec = true}));
  TableDump dump = dump_tables(mem, v5, std::span<const uint64_t>(&t[0], 1));
  ASSERT_EQ(dump.mappings.size(), 1u);
  EXPECT_EQ(format_mapping(dump.mappings[0]),
            "0x1008040201000-0x1008040201fff -> 0x40001000 r 4K L4 (PT)");
  mem.write64(t[1] + 8, t[2] | kSsR | kSsPs);  // PS in an SS-PML4E
  EXPECT_EQ(walk(mem, v5, t[0], iova).fault()->reason, FaultReason::kReserved);
  dump = dump_tables(mem, v5, std::span<const uint64_t>(&t[0], 1));
  ASSERT_EQ(dump.malformed.size(), 1u);
  EXPECT_EQ(format_malformed(dump.malformed[0]),
            "malformed: desc 0x80001008 level 1 (PML4) iova 0x1008000000000: reserved-encoding "
            "(PS set in a PML4 or PML5 entry (reserved))");
}

}  // namespace
}  // namespace iommu::hw
