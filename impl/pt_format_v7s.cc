// io-pgtable-arm-v7s.c's short descriptors as the engine writes them: arm_v7s_prot_to_pte()
// and arm_v7s_pte_to_cont(). The attribute field sits at a different place in a section and
// in a small page, and a large page moves TEX and XN again, so a split re-derives the
// attributes from the prot the leaf expresses (every leaf Linux writes does express one).
#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_format.h"

namespace iommu::impl {
namespace {

constexpr uint64_t ARM_V7S_PTE_TYPE_TABLE = 1;
constexpr uint64_t ARM_V7S_PTE_TYPE_PAGE = 2;
constexpr uint64_t ARM_V7S_PTE_TYPE_CONT_PAGE = 1;
constexpr uint64_t ARM_V7S_PTE_TYPE_MASK = 3;
constexpr uint64_t ARM_V7S_ATTR_B = bit(2);
constexpr uint64_t ARM_V7S_ATTR_C = bit(3);
constexpr uint64_t ARM_V7S_CONT_SECTION = bit(18);
constexpr unsigned ARM_V7S_CONT_PAGE_XN_SHIFT = 15;
constexpr unsigned ARM_V7S_CONT_PAGE_TEX_SHIFT = 6;
constexpr uint64_t ARM_V7S_CONT_PAGE_TEX_MASK = uint64_t{7} << 6;  // TEX at a small page
// The 8-bit attribute field, shifted to ARM_V7S_ATTR_SHIFT(lvl).
constexpr uint64_t ARM_V7S_PTE_AF = bit(0);
constexpr uint64_t ARM_V7S_PTE_AP_UNPRIV = bit(1);
constexpr uint64_t ARM_V7S_ATTR_TEX_1 = bit(2);
constexpr uint64_t ARM_V7S_PTE_AP_RDONLY = bit(5);
constexpr uint64_t ARM_V7S_ATTR_S = bit(6);
constexpr uint64_t ARM_V7S_ATTR_NG = bit(7);

constexpr unsigned attr_shift(unsigned lvl) { return 16 - lvl * 6; }
constexpr uint64_t attr_xn(unsigned lvl) { return bit(4 * (2 - lvl)); }

uint64_t prot_to_pte(int prot, unsigned lvl) {
  uint64_t attr = ARM_V7S_ATTR_NG | ARM_V7S_ATTR_S | ARM_V7S_PTE_AF;
  if (!(prot & IOMMU_MMIO)) attr |= ARM_V7S_ATTR_TEX_1;
  if (!(prot & IOMMU_PRIV)) attr |= ARM_V7S_PTE_AP_UNPRIV;
  if (!(prot & IOMMU_WRITE)) attr |= ARM_V7S_PTE_AP_RDONLY;
  uint64_t pte = attr << attr_shift(lvl);
  if (prot & IOMMU_NOEXEC) pte |= attr_xn(lvl);
  if (prot & IOMMU_MMIO)
    pte |= ARM_V7S_ATTR_B;
  else if (prot & IOMMU_CACHE)
    pte |= ARM_V7S_ATTR_B | ARM_V7S_ATTR_C;
  return pte | ARM_V7S_PTE_TYPE_PAGE;
}

uint64_t pte_to_cont(uint64_t pte, unsigned lvl) {
  if (lvl == 1) return pte | ARM_V7S_CONT_SECTION;
  const uint64_t xn = pte & attr_xn(2);
  const uint64_t tex = pte & ARM_V7S_CONT_PAGE_TEX_MASK;
  pte ^= xn | tex | ARM_V7S_PTE_TYPE_PAGE;
  return pte | (xn << ARM_V7S_CONT_PAGE_XN_SHIFT) | (tex << ARM_V7S_CONT_PAGE_TEX_SHIFT) |
         ARM_V7S_PTE_TYPE_CONT_PAGE;
}

uint64_t leaf_attrs(const PtFormat& f, int prot, unsigned lvl, uint64_t pgsize) {
  const uint64_t pte = prot_to_pte(prot, lvl);
  return pgsize > f.at(lvl).leaf_size ? pte_to_cont(pte, lvl) : pte;
}

bool is_cont(uint64_t desc, unsigned lvl) {
  return lvl == 1 ? (desc & ARM_V7S_CONT_SECTION) != 0
                  : (desc & ARM_V7S_PTE_TYPE_MASK) == ARM_V7S_PTE_TYPE_CONT_PAGE;
}

// arm_v7s_iopte_to_prot(), extended by what prot_to_pte() sets from the prot: MMIO (TEX 0),
// PRIV and NOEXEC, so that prot_to_pte(pte_prot(pte)) rebuilds pte's attributes.
int pte_prot(uint64_t desc, unsigned lvl) {
  const bool cont_page = lvl == 2 && is_cont(desc, lvl);
  const uint64_t xn = cont_page ? desc & bit(ARM_V7S_CONT_PAGE_XN_SHIFT) : desc & attr_xn(lvl);
  const uint64_t attr = desc >> attr_shift(lvl);
  const uint64_t tex = cont_page ? (desc >> (attr_shift(2) + ARM_V7S_CONT_PAGE_TEX_SHIFT))
                                 : attr;
  int prot = IOMMU_READ;
  if (!(attr & ARM_V7S_PTE_AP_RDONLY)) prot |= IOMMU_WRITE;
  if (!(attr & ARM_V7S_PTE_AP_UNPRIV)) prot |= IOMMU_PRIV;
  if (xn) prot |= IOMMU_NOEXEC;
  if (!(tex & ARM_V7S_ATTR_TEX_1))
    prot |= IOMMU_MMIO;
  else if (desc & ARM_V7S_ATTR_C)
    prot |= IOMMU_CACHE;
  return prot;
}

uint64_t split_attrs(const PtFormat& f, uint64_t desc, unsigned lvl, unsigned to_level,
                     uint64_t pgsize) {
  return leaf_attrs(f, pte_prot(desc, lvl), to_level, pgsize);
}

constexpr PtCodec kV7s{leaf_attrs, split_attrs, sixteen_entries};

}  // namespace

void v7s_pt_format(PtFormat& f) {
  f.codec = &kV7s;
  f.oa_field.lo_mask = genmask(31, 10);
  PtLevel& l1 = f.levels[1];
  l1.present = ARM_V7S_PTE_TYPE_MASK;
  l1.type = ARM_V7S_PTE_TYPE_MASK;
  l1.table = ARM_V7S_PTE_TYPE_TABLE;
  l1.contig = ARM_V7S_CONT_SECTION;
  l1.contig_value = ARM_V7S_CONT_SECTION;
  l1.table_attrs = ARM_V7S_PTE_TYPE_TABLE;
  PtLevel& l2 = f.levels[2];
  l2.present = ARM_V7S_PTE_TYPE_MASK;
  l2.table = 1;  // no tables below level 2
  l2.contig = ARM_V7S_PTE_TYPE_MASK;
  l2.contig_value = ARM_V7S_PTE_TYPE_CONT_PAGE;
}

}  // namespace iommu::impl
