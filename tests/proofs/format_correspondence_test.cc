// The uint64_t instances of proofs/format_model.h against hw/'s geometry, encoders and
// decoders, for every configuration the proofs enumerate: every single-bit input (the
// functions are bitwise, so these and zero pin them down) plus random 64-bit ones.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "base/bits.h"
#include "base/prot.h"
#include "proofs/format.h"

namespace iommu::proofs {
namespace {

std::vector<uint64_t> inputs(unsigned bits) {
  std::vector<uint64_t> out{0, low_mask(bits)};
  for (unsigned b = 0; b < bits; b++) out.push_back(bit(b));
  std::mt19937_64 rng(bits);
  for (int i = 0; i < 64; i++) out.push_back(rng() & low_mask(bits));
  return out;
}

TEST(FormatCorrespondence, CasesCoverEveryModelledFormat) {
  std::set<std::string_view> seen;
  for (const FormatCase& c : format_cases()) seen.insert(c.format.name());
  size_t modelled = 0;
  for (std::string_view name : hw::format_names())
    modelled += modelled_family(hw::make_format({std::string(name)}).family());
  EXPECT_EQ(modelled, 12u);
  EXPECT_EQ(seen.size(), modelled);
}

TEST(FormatCorrespondence, LevelIndexAndEntriesLeftAreTheGeometrys) {
  for (const FormatCase* c : distinct_cases([](const FormatCase& c) { return c.label; })) {
    const hw::Geometry& g = c->format.geo();
    for (uint64_t iova : inputs(g.ias))
      for (unsigned l = g.start_level; l <= g.last_level; l++) {
        ASSERT_EQ(level_index(iova, g.at(l)), g.index(iova, l)) << c->label;
        ASSERT_EQ(entries_left(iova, g, l, FormatVariant::kHw),
                  (uint64_t{1} << g.at(l).index_bits) - g.index(iova, l));
        ASSERT_EQ(index_bits(g, l, FormatVariant::kHw), g.at(l).index_bits);
      }
  }
}

TEST(FormatCorrespondence, LeafSizesAndReplicasAreTheFormats) {
  for (const FormatCase& c : format_cases()) {
    const hw::Geometry& g = c.format.geo();
    for (uint64_t sizes = g.pgsize_bitmap; sizes; sizes &= sizes - 1) {
      const uint64_t pgsize = sizes & -sizes;
      // hw keeps 64K LPAE's 4T size in the bitmap when the ias is too small to walk its level;
      // such a page is the whole ias or more (ias 42: no level has 4T blocks; reported).
      if (pgsize >= bit(g.ias)) continue;
      const unsigned level = c.format.leaf_level(pgsize);
      ASSERT_EQ(g.at(level).leaf_size, bit(g.at(level).shift)) << c.label;
      ASSERT_EQ(g.at(level).leaf_size * c.format.replicas(pgsize), pgsize) << c.label;
      if (c.format.replicas(pgsize) > 1) {
        ASSERT_EQ(c.format.family(), hw::Family::kV7s);
        ASSERT_EQ(replica_index(pgsize, g, level, pgsize, FormatVariant::kHw), g.index(pgsize, level));
      }
    }
  }
}

// Every prot a caller may pass, the IOMMU_* flags in all combinations.
std::vector<int> prots() {
  std::vector<int> out;
  for (int p = 0; p < 64; p++)
    if (p & (IOMMU_READ | IOMMU_WRITE)) out.push_back(p);
  return out;
}

// Writing paddr into a descriptor is the model's packing OR'ed with attribute bits that stay
// outside the address field; reading it back is the model's unpacking.
// field(f, pgsize): the address field of a leaf of pgsize, or of a table for pgsize 0.
using Field = uint64_t (*)(const hw::Format&, uint64_t);

void expect_packing(const FormatCase& c, uint64_t paddr, Field field,
                    uint64_t (*pack)(const hw::Format&, uint64_t, bool),
                    uint64_t (*unpack)(const hw::Format&, uint64_t, unsigned, uint64_t)) {
  const hw::Format& f = c.format;
  const hw::Geometry& g = f.geo();
  for (unsigned l = g.start_level; l < g.last_level; l++) {
    if (!g.at(l).has_tables) continue;
    const uint64_t desc = f.make_table(paddr);
    ASSERT_EQ(desc & field(f, 0), pack(f, paddr, true)) << c.label << " table " << std::hex << paddr;
    ASSERT_EQ(f.decode(desc, l).paddr, unpack(f, desc, l + 1, 0)) << c.label;
  }
  for (uint64_t sizes = g.pgsize_bitmap; sizes; sizes &= sizes - 1) {
    const uint64_t pgsize = sizes & -sizes;
    if (!is_aligned(paddr, pgsize)) continue;
    for (int prot : prots()) {
      const uint64_t desc = f.make_leaf(paddr, pgsize, prot);
      const uint64_t attrs = f.make_leaf(0, pgsize, prot);
      ASSERT_EQ(attrs & field(f, pgsize), 0u) << c.label << " prot " << prot;
      ASSERT_EQ(desc, attrs | pack(f, paddr, false)) << c.label << std::hex << " " << paddr;
      const hw::Decoded d = f.decode(desc, f.leaf_level(pgsize));
      ASSERT_EQ(d.paddr, unpack(f, desc, 0, pgsize)) << c.label << std::hex << " " << paddr;
    }
  }
}

uint64_t lpae_field(const hw::Format&, uint64_t) { return kLpaeAddrMask; }
uint64_t v7s_field(const hw::Format&, uint64_t pgsize) {
  return pgsize ? genmask(31, ffs64_idx(pgsize)) : genmask(31, 10);
}
uint64_t dart_field(const hw::Format& f, uint64_t) {
  return f.id() == hw::FormatId::kAppleDart2 ? genmask(37, 10) : genmask(35, 12);
}

uint64_t lpae_pack_of(const hw::Format&, uint64_t paddr, bool table) {
  return lpae_pack(paddr, table, FormatVariant::kHw);
}
uint64_t lpae_unpack_of(const hw::Format& f, uint64_t desc, unsigned, uint64_t) {
  return lpae_unpack(desc, f.geo().granule);
}
uint64_t v7s_pack_of(const hw::Format&, uint64_t paddr, bool) { return paddr; }
uint64_t v7s_unpack_of(const hw::Format&, uint64_t desc, unsigned, uint64_t pgsize) {
  return v7s_unpack(desc, pgsize ? genmask(31, ffs64_idx(pgsize)) : v7s_table_mask(FormatVariant::kHw));
}
uint64_t dart_pack_of(const hw::Format& f, uint64_t paddr, bool) {
  return dart_pack(paddr, f.id() == hw::FormatId::kAppleDart2, FormatVariant::kHw);
}
uint64_t dart_unpack_of(const hw::Format& f, uint64_t desc, unsigned, uint64_t) {
  return dart_unpack(desc, f.id() == hw::FormatId::kAppleDart2);
}

TEST(FormatCorrespondence, PackingIsTheEncodersAndDecoders) {
  for (const FormatCase* c :
       distinct_cases([](const FormatCase& c) { return std::string(c.format.name()) + " " +
                                                       std::to_string(c.format.geo().oas) + " " +
                                                       std::to_string(c.format.geo().granule); })) {
    const hw::Geometry& g = c->format.geo();
    for (uint64_t paddr : inputs(g.oas)) {
      switch (c->format.family()) {
        case hw::Family::kLpae:
          expect_packing(*c, paddr & ~(g.granule - 1), lpae_field, lpae_pack_of, lpae_unpack_of);
          break;
        case hw::Family::kV7s:
          expect_packing(*c, paddr & ~uint64_t{0x3ff}, v7s_field, v7s_pack_of, v7s_unpack_of);
          break;
        case hw::Family::kDart:
          expect_packing(*c, paddr & ~(g.granule - 1), dart_field, dart_pack_of, dart_unpack_of);
          break;
        case hw::Family::kAmdV1:
        case hw::Family::kVtdSs:
        case hw::Family::kX86_64:
        case hw::Family::kRiscv: FAIL() << "unmodelled family enumerated: " << c->label;
      }
    }
  }
}

}  // namespace
}  // namespace iommu::proofs
