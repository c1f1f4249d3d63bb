// The descriptor-format arithmetic of hw/ (hw/format.cc, format_lpae.cc, format_v7s.cc,
// format_dart.cc) written over a number type. The geometry (shifts, index widths) is the one
// hw::make_format computes; tests/proofs checks every function here against hw::Geometry and
// hw::Format's encoders and decoders.
#pragma once

#include "base/bits.h"
#include "hw/format.h"
#include "proofs/word.h"

namespace iommu::proofs {

enum class FormatVariant {
  kHw,
  kPgdNotConcatenated,  // a concatenated stage-2 PGD indexed with one table's bits per level
  kPtesPerTable,        // entries left = granule / desc_bytes - idx (before d71fa842d33c)
  kGranuleOffset,       // a block's low iova bits masked with the granule, not the block size
  kReplicaIndexByPage,  // a v7s large page indexed with its own shift, not its level's
  kRawTableAddress,     // LPAE table descriptor written without paddr packing (before 9abe2ac83485)
  kV7sTableAddress4k,   // v7s level-2 table address read as 4K-aligned (it is 1K-aligned)
  kDart2Unshifted,      // DART2 paddr stored in place instead of shifted right by 4
};

// Geometry::index: the level's index bits of iova.
template <class W>
W level_index(const W& iova, const hw::LevelGeometry& lg) {
  return shr(iova, lg.shift) & lit(iova, low_mask(lg.index_bits));
}

// The index width the walk uses at `level`; the variant drops a stage-2 PGD's concatenation.
inline unsigned index_bits(const hw::Geometry& g, unsigned level, FormatVariant v) {
  const unsigned bits = g.at(level).index_bits;
  if (v != FormatVariant::kPgdNotConcatenated || level != g.start_level || g.pgd_concat == 1)
    return bits;
  return bits - static_cast<unsigned>(std::countr_zero(g.pgd_concat));
}

// How many entries of the table at `level` a run starting at iova may fill: impl's fill_leaves
// (entries(level) - idx); Linux before d71fa842d33c counted one granule's worth of entries.
template <class W>
W entries_left(const W& iova, const hw::Geometry& g, unsigned level, FormatVariant v) {
  const hw::LevelGeometry& lg = g.at(level);
  const uint64_t entries = v == FormatVariant::kPtesPerTable ? g.granule / g.desc_bytes
                                                             : uint64_t{1} << lg.index_bits;
  return lit(iova, entries) - level_index(iova, lg);
}

// The output address a walk returns for iova through a leaf of `leaf_size` at leaf_paddr.
template <class W>
W leaf_output(const W& leaf_paddr, const W& iova, uint64_t leaf_size, uint64_t granule,
              FormatVariant v) {
  const uint64_t mask = (v == FormatVariant::kGranuleOffset ? granule : leaf_size) - 1;
  return leaf_paddr | (iova & lit(iova, mask));
}

// The index of a v7s leaf of pgsize at `level` (large pages span 16 entries of it).
template <class W>
W replica_index(const W& iova, const hw::Geometry& g, unsigned level, uint64_t pgsize,
                FormatVariant v) {
  hw::LevelGeometry lg = g.at(level);
  if (v == FormatVariant::kReplicaIndexByPage) lg.shift = ffs64_idx(pgsize);
  return level_index(iova, lg);
}

// LPAE: PA[51:48] live in PTE[15:12] (format_lpae.cc pack_paddr / unpack_paddr).
inline constexpr uint64_t kLpaeAddrMask = genmask(47, 12);

template <class W>
W lpae_pack(const W& paddr, bool table, FormatVariant v) {
  if (table && v == FormatVariant::kRawTableAddress) return paddr;
  return (paddr | shr(paddr, 48 - 12)) & lit(paddr, kLpaeAddrMask);
}

template <class W>
W lpae_unpack(const W& desc, uint64_t granule) {
  const W a = desc & lit(desc, kLpaeAddrMask);
  if (granule < (1 << 16)) return a;
  return (a | shl(a, 48 - 12)) & lit(desc, kLpaeAddrMask << 4);
}

// v7s keeps the address in place; what a decoder reads depends on the entry kind.
template <class W>
W v7s_unpack(const W& desc, uint64_t addr_mask) {
  return desc & lit(desc, addr_mask);
}

inline uint64_t v7s_table_mask(FormatVariant v) {
  return v == FormatVariant::kV7sTableAddress4k ? genmask(31, 12) : genmask(31, 10);
}

// DART1 keeps PA[35:12] in place; DART2 stores PA >> 4 in [37:10].
template <class W>
W dart_pack(const W& paddr, bool dart2, FormatVariant v) {
  if (!dart2) return paddr & lit(paddr, genmask(35, 12));
  if (v == FormatVariant::kDart2Unshifted) return paddr & lit(paddr, genmask(37, 10));
  return shr(paddr, 4) & lit(paddr, genmask(37, 10));
}

template <class W>
W dart_unpack(const W& desc, bool dart2) {
  if (!dart2) return desc & lit(desc, genmask(35, 12));
  return shl(desc & lit(desc, genmask(37, 10)), 4);
}

}  // namespace iommu::proofs
