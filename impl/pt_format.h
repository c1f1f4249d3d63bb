// A descriptor format as the engine writes it: the levels' geometry (from hw::Geometry, the
// format's data) and impl's own codec, a few masks per level plus three hooks per family. This
// is the driver's side of a format; hw/'s codec is the hardware's reading of the same bytes,
// written separately, so that the two disagree when one of them is wrong.
//
// A leaf is `attrs | oa(paddr)`: the attribute bits come from the prot once per call
// (Codec::leaf_attrs) and only the output address changes from entry to entry. What kind of
// entry a descriptor is comes from the per-level masks, without a call.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "hw/format.h"

namespace iommu::impl {

struct PtFormat;

// The per-family hooks. Each is called once per operation or per split, never per entry.
struct PtCodec {
  // The bits of a leaf of `pgsize` at `level` other than its output address (type, size
  // encoding and the attributes `prot` asks for).
  uint64_t (*leaf_attrs)(const PtFormat& f, int prot, unsigned level, uint64_t pgsize);
  // The attribute bits for a piece of `pgsize` at `to_level` of the leaf `desc` at `level`,
  // keeping every attribute the leaf has (a split must not change a mapping's attributes).
  uint64_t (*split_attrs)(const PtFormat& f, uint64_t desc, unsigned level, unsigned to_level,
                          uint64_t pgsize);
  // The size of a leaf that spans several entries (PtLevel::contig_*); called only for those.
  uint64_t (*contig_size)(const PtFormat& f, uint64_t desc, unsigned level);
};

// One level of the walk: where its index lies and how its entries tell what they are.
struct PtLevel {
  unsigned shift = 0;       // iova bit where the index starts
  unsigned index_bits = 0;  // width of the index (the whole concatenated PGD at the start)
  uint64_t table_bytes = 0;
  uint64_t leaf_size = 0;  // a single-entry leaf's size, 0 when leaves need a larger level
  // An entry is empty when (desc & present) == 0, a table when (desc & type) == table (never
  // at a level without tables), else a leaf; a leaf spanning several entries has
  // (desc & contig) == contig_value with contig != 0.
  uint64_t present = 0;
  uint64_t type = 0;
  uint64_t table = 0;
  uint64_t contig = 0;
  uint64_t contig_value = 0;
  uint64_t table_attrs = 0;  // a table descriptor's bits besides the next table's address

  uint64_t entries() const { return uint64_t{1} << index_bits; }
  bool is_contig(uint64_t desc) const { return contig && (desc & contig) == contig_value; }
  uint64_t span() const { return uint64_t{1} << shift; }  // what one entry translates
};

// The output-address field of a descriptor: two bit fields holding pa shifted right (LPAE's
// PA[51:48] move to [15:12]; DART2 and RISC-V store pa shifted right).
struct PtOa {
  uint64_t lo_mask = 0, hi_mask = 0;
  unsigned lo_shift = 0, hi_shift = 0;

  uint64_t encode(uint64_t pa) const {
    return ((pa >> lo_shift) & lo_mask) | ((pa >> hi_shift) & hi_mask);
  }
  uint64_t decode(uint64_t desc) const {
    return ((desc & lo_mask) << lo_shift) | ((desc & hi_mask) << hi_shift);
  }
  uint64_t mask() const { return lo_mask | hi_mask; }
};

struct PtFormat {
  const hw::Format* hw = nullptr;  // name, ias, oas, page sizes
  const PtCodec* codec = nullptr;
  unsigned variant = 0;  // what the family's hooks tell its formats apart by
  unsigned desc_bytes = 8;
  unsigned start_level = 0;
  unsigned last_level = 0;
  uint64_t granule = 0;
  unsigned ttbr_shift = 0;  // DART: tables selected by the iova bits above the walk
  unsigned n_ttbrs = 1;
  PtOa oa_field;
  std::array<PtLevel, hw::kMaxLevels> levels{};
  // The level of a leaf of 1 << n bytes, for every page size the format has.
  std::array<uint8_t, 64> leaf_level_of{};

  const PtLevel& at(unsigned level) const { return levels[level]; }
  uint64_t oa(uint64_t pa) const { return oa_field.encode(pa); }
  uint64_t oa_of(uint64_t desc) const { return oa_field.decode(desc); }
  uint64_t index(uint64_t iova, unsigned level) const {
    const PtLevel& l = levels[level];
    return (iova >> l.shift) & (l.entries() - 1);
  }
  // What one table at `level` translates.
  unsigned table_shift(unsigned level) const { return at(level).shift + at(level).index_bits; }
  unsigned ttbr(uint64_t iova) const {
    return n_ttbrs == 1 ? 0 : static_cast<unsigned>((iova >> ttbr_shift) & (n_ttbrs - 1));
  }
  unsigned leaf_level(uint64_t pgsize) const {
    return leaf_level_of[static_cast<unsigned>(__builtin_ctzll(pgsize))];
  }
  // Entries one leaf of `pgsize` occupies.
  unsigned replicas(uint64_t pgsize) const {
    return static_cast<unsigned>(pgsize >> at(leaf_level(pgsize)).shift);
  }
  uint64_t table_desc(uint64_t table, unsigned level) const {
    return at(level).table_attrs | oa(table);
  }
  // The size of the leaf `desc` at `level`.
  uint64_t leaf_size(uint64_t desc, unsigned level) const {
    const PtLevel& l = at(level);
    return l.is_contig(desc) ? codec->contig_size(*this, desc, level) : l.leaf_size;
  }
};

// contig_size for formats whose contiguous leaves are always 16 entries (v7s, RISC-V Svnapot).
inline uint64_t sixteen_entries(const PtFormat& f, uint64_t, unsigned level) {
  return f.at(level).leaf_size * 16;
}

enum class PtKind { kEmpty, kTable, kLeaf };

inline PtKind kind_of(const PtLevel& l, uint64_t desc) {
  if (!(desc & l.present)) return PtKind::kEmpty;
  return (desc & l.type) == l.table ? PtKind::kTable : PtKind::kLeaf;
}

// impl's own description of `fmt`; std::invalid_argument for a family impl does not serve.
PtFormat make_pt_format(const hw::Format& fmt);
bool serves_family(hw::Family family);

// The families' halves of make_pt_format: each fills the masks and the output-address field.
void lpae_pt_format(PtFormat& f);
void v7s_pt_format(PtFormat& f);
void dart_pt_format(PtFormat& f);
void amd_v1_pt_format(PtFormat& f);
void x86_pt_format(PtFormat& f);  // vtd-ss and x86-64
void riscv_pt_format(PtFormat& f);

}  // namespace iommu::impl
