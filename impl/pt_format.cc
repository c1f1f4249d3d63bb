#include "impl/pt_format.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {
namespace {

// The level with the largest single-entry leaf not above pgsize: a larger page spans several
// of its entries.
unsigned level_for(const PtFormat& f, uint64_t pgsize) {
  unsigned best = 0;
  uint64_t best_size = 0;
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    const uint64_t size = f.at(l).leaf_size;
    if (size && size <= pgsize && size > best_size) {
      best = l;
      best_size = size;
    }
  }
  if (!best_size)
    throw std::logic_error(fmt::format("{}: no level holds a {:#x} leaf", f.hw->name(), pgsize));
  return best;
}

}  // namespace

bool serves_family(hw::Family family) {
  switch (family) {
    case hw::Family::kLpae:
    case hw::Family::kV7s:
    case hw::Family::kDart:
    case hw::Family::kAmdV1:
    case hw::Family::kVtdSs:
    case hw::Family::kX86_64:
    case hw::Family::kRiscv: return true;
  }
  return false;
}

PtFormat make_pt_format(const hw::Format& fmt) {
  const hw::Geometry& g = fmt.geo();
  PtFormat f;
  f.hw = &fmt;
  f.desc_bytes = g.desc_bytes;
  f.start_level = g.start_level;
  f.last_level = g.last_level;
  f.granule = g.granule;
  f.ttbr_shift = g.ttbr_shift;
  f.n_ttbrs = g.n_ttbrs;
  for (unsigned l = g.start_level; l <= g.last_level; l++) {
    const hw::LevelGeometry& lg = g.at(l);
    PtLevel& pl = f.levels[l];
    pl.shift = lg.shift;
    pl.index_bits = lg.index_bits;
    pl.table_bytes = l == g.start_level ? g.pgd_bytes : lg.table_bytes;
    pl.leaf_size = lg.leaf_size;
  }
  switch (fmt.family()) {
    case hw::Family::kLpae: lpae_pt_format(f); break;
    case hw::Family::kV7s: v7s_pt_format(f); break;
    case hw::Family::kDart: dart_pt_format(f); break;
    case hw::Family::kAmdV1: amd_v1_pt_format(f); break;
    case hw::Family::kVtdSs:
    case hw::Family::kX86_64: x86_pt_format(f); break;
    case hw::Family::kRiscv: riscv_pt_format(f); break;
  }
  for (uint64_t sizes = g.pgsize_bitmap; sizes; sizes &= sizes - 1) {
    const uint64_t pgsize = sizes & -sizes;
    f.leaf_level_of[ffs64_idx(pgsize)] = static_cast<uint8_t>(level_for(f, pgsize));
  }
  return f;
}

}  // namespace iommu::impl
