// io-pgtable-arm.c's long descriptors as the engine writes them: arm_lpae_prot_to_pte() for
// the attributes, paddr_to_iopte() for the address (PA[51:48] in [15:12] with 64K pages).
#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_format.h"

namespace iommu::impl {
namespace {

constexpr uint64_t ARM_LPAE_PTE_TYPE_MASK = 3;
constexpr uint64_t ARM_LPAE_PTE_TYPE_BLOCK = 1;
constexpr uint64_t ARM_LPAE_PTE_TYPE_TABLE = 3;
constexpr uint64_t ARM_LPAE_PTE_TYPE_PAGE = 3;
constexpr uint64_t ARM_LPAE_PTE_XN = genmask(54, 53);
constexpr uint64_t ARM_LPAE_PTE_AF = bit(10);
constexpr uint64_t ARM_LPAE_PTE_SH_OS = uint64_t{2} << 8;
constexpr uint64_t ARM_LPAE_PTE_SH_IS = uint64_t{3} << 8;
constexpr uint64_t ARM_LPAE_PTE_NG = bit(11);
constexpr uint64_t ARM_LPAE_PTE_AP_UNPRIV = uint64_t{1} << 6;
constexpr uint64_t ARM_LPAE_PTE_AP_RDONLY = uint64_t{2} << 6;
constexpr uint64_t ARM_LPAE_PTE_HAP_READ = uint64_t{1} << 6;
constexpr uint64_t ARM_LPAE_PTE_HAP_WRITE = uint64_t{2} << 6;
constexpr uint64_t ARM_LPAE_PTE_MEMATTR_OIWB = uint64_t{0xf} << 2;
constexpr uint64_t ARM_LPAE_PTE_MEMATTR_NC = uint64_t{0x5} << 2;
constexpr uint64_t ARM_LPAE_PTE_MEMATTR_DEV = uint64_t{0x1} << 2;
constexpr unsigned ARM_LPAE_PTE_ATTRINDX_SHIFT = 2;
constexpr uint64_t ARM_LPAE_MAIR_ATTR_IDX_CACHE = 1;
constexpr uint64_t ARM_LPAE_MAIR_ATTR_IDX_DEV = 2;

constexpr unsigned kStage2 = 1, kMali = 2;  // PtFormat::variant bits

bool mali(const PtFormat& f) { return f.variant & kMali; }
bool stage2(const PtFormat& f) { return f.variant & kStage2; }

uint64_t leaf_type(const PtFormat& f, unsigned level) {
  return level == f.last_level && !mali(f) ? ARM_LPAE_PTE_TYPE_PAGE : ARM_LPAE_PTE_TYPE_BLOCK;
}

uint64_t access_bits(const PtFormat& f, int prot) {
  if (stage2(f) || mali(f))
    return ((prot & IOMMU_READ) ? ARM_LPAE_PTE_HAP_READ : 0) |
           ((prot & IOMMU_WRITE) ? ARM_LPAE_PTE_HAP_WRITE : 0);
  const bool read_only = (prot & IOMMU_READ) && !(prot & IOMMU_WRITE);
  return ARM_LPAE_PTE_NG | (read_only ? ARM_LPAE_PTE_AP_RDONLY : 0) |
         ((prot & IOMMU_PRIV) ? 0 : ARM_LPAE_PTE_AP_UNPRIV);
}

uint64_t memory_type(const PtFormat& f, int prot) {
  if (stage2(f))
    return (prot & IOMMU_MMIO)    ? ARM_LPAE_PTE_MEMATTR_DEV
           : (prot & IOMMU_CACHE) ? ARM_LPAE_PTE_MEMATTR_OIWB
                                  : ARM_LPAE_PTE_MEMATTR_NC;
  const uint64_t idx = (prot & IOMMU_MMIO)    ? ARM_LPAE_MAIR_ATTR_IDX_DEV
                       : (prot & IOMMU_CACHE) ? ARM_LPAE_MAIR_ATTR_IDX_CACHE
                                              : 0;
  return idx << ARM_LPAE_PTE_ATTRINDX_SHIFT;
}

uint64_t leaf_attrs(const PtFormat& f, int prot, unsigned level, uint64_t) {
  const bool inner = (prot & IOMMU_CACHE) && !mali(f);
  return access_bits(f, prot) | memory_type(f, prot) |
         (inner ? ARM_LPAE_PTE_SH_IS : ARM_LPAE_PTE_SH_OS) |
         ((prot & IOMMU_NOEXEC) ? ARM_LPAE_PTE_XN : 0) | (mali(f) ? 0 : ARM_LPAE_PTE_AF) |
         leaf_type(f, level);
}

// Every attribute lies outside the address and type fields and means the same at every level.
uint64_t split_attrs(const PtFormat& f, uint64_t desc, unsigned, unsigned to_level, uint64_t) {
  return (desc & ~(f.oa_field.mask() | ARM_LPAE_PTE_TYPE_MASK)) | leaf_type(f, to_level);
}

uint64_t no_contig(const PtFormat&, uint64_t, unsigned) { return 0; }

constexpr PtCodec kLpae{leaf_attrs, split_attrs, no_contig};

}  // namespace

void lpae_pt_format(PtFormat& f) {
  f.codec = &kLpae;
  f.variant = (f.hw->is_stage2() ? kStage2 : 0) | (f.hw->is_mali() ? kMali : 0);
  const bool wide = f.granule == (uint64_t{1} << 16);
  f.oa_field.lo_mask = genmask(47, wide ? 16 : 12);
  f.oa_field.hi_mask = wide ? genmask(15, 12) : 0;
  f.oa_field.hi_shift = 48 - 12;
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    PtLevel& pl = f.levels[l];
    pl.present = 1;
    const bool tables = l < f.last_level;
    pl.type = tables ? ARM_LPAE_PTE_TYPE_MASK : 0;
    pl.table = tables ? ARM_LPAE_PTE_TYPE_TABLE : 1;
    pl.table_attrs = ARM_LPAE_PTE_TYPE_TABLE;
  }
}

}  // namespace iommu::impl
