// io-pgtable-dart.c's entries as the engine writes them: dart_prot_to_pte() and
// paddr_to_iopte(); pages only, so nothing splits.
#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_format.h"

namespace iommu::impl {
namespace {

constexpr uint64_t APPLE_DART_PTE_VALID = bit(0);
constexpr uint64_t APPLE_DART1_PTE_PROT_SP_DIS = bit(1);
constexpr uint64_t APPLE_DART_PTE_SUBPAGE_END = genmask(51, 40);
constexpr uint64_t APPLE_DART1_PTE_PROT_NO_WRITE = bit(7);
constexpr uint64_t APPLE_DART1_PTE_PROT_NO_READ = bit(8);
constexpr uint64_t APPLE_DART2_PTE_PROT_NO_WRITE = bit(2);
constexpr uint64_t APPLE_DART2_PTE_PROT_NO_READ = bit(3);
constexpr uint64_t APPLE_DART2_PTE_PROT_NO_CACHE = bit(1);

bool dart2(const PtFormat& f) { return f.variant != 0; }

// The subpage window covers the whole page (start 0, end 0xfff). Linux sets SP_DIS (bit 1)
// for DART2 as well, where that bit means NO_CACHE: written as Linux writes it.
uint64_t leaf_attrs(const PtFormat& f, int prot, unsigned, uint64_t) {
  uint64_t pte = APPLE_DART_PTE_VALID | APPLE_DART1_PTE_PROT_SP_DIS | APPLE_DART_PTE_SUBPAGE_END;
  if (dart2(f)) {
    if (!(prot & IOMMU_WRITE)) pte |= APPLE_DART2_PTE_PROT_NO_WRITE;
    if (!(prot & IOMMU_READ)) pte |= APPLE_DART2_PTE_PROT_NO_READ;
    if (!(prot & IOMMU_CACHE)) pte |= APPLE_DART2_PTE_PROT_NO_CACHE;
  } else {
    if (!(prot & IOMMU_WRITE)) pte |= APPLE_DART1_PTE_PROT_NO_WRITE;
    if (!(prot & IOMMU_READ)) pte |= APPLE_DART1_PTE_PROT_NO_READ;
  }
  return pte;
}

uint64_t split_attrs(const PtFormat& f, uint64_t, unsigned, unsigned, uint64_t) {
  throw std::logic_error(std::string(f.hw->name()) + " has one page size: nothing splits");
}

uint64_t no_contig(const PtFormat&, uint64_t, unsigned) { return 0; }

constexpr PtCodec kDart{leaf_attrs, split_attrs, no_contig};

}  // namespace

void dart_pt_format(PtFormat& f) {
  f.codec = &kDart;
  f.variant = f.hw->id() == hw::FormatId::kAppleDart2;
  if (dart2(f)) {
    f.oa_field.lo_mask = genmask(37, 10);
    f.oa_field.lo_shift = 4;
  } else {
    f.oa_field.lo_mask = genmask(35, 12);
  }
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    PtLevel& pl = f.levels[l];
    pl.present = APPLE_DART_PTE_VALID;
    const bool tables = l < f.last_level;
    pl.type = 0;
    pl.table = tables ? 0 : 1;
    pl.table_attrs = APPLE_DART_PTE_VALID;
  }
}

}  // namespace iommu::impl
