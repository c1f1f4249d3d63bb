// The x86 families as the engine writes them: AMD IOMMU v1 (drivers/iommu/amd/io_pgtable.c:
// PDEs naming the next level, pages of any power of two as NextLevel-7 entries), VT-d second
// stage and the x86-64 first stage (drivers/iommu/intel/iommu.c's __domain_mapping). Levels
// count down to the leaf-most as hw/ numbers them: the last level holds 4K pages.
#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_format.h"

namespace iommu::impl {
namespace {

constexpr uint64_t IOMMU_PTE_PR = bit(0);
constexpr uint64_t IOMMU_PTE_FC = bit(60);
constexpr uint64_t IOMMU_PTE_IR = bit(61);
constexpr uint64_t IOMMU_PTE_IW = bit(62);
constexpr unsigned PM_LEVEL_SHIFT = 9;
constexpr uint64_t PM_LEVEL_MASK = uint64_t{7} << PM_LEVEL_SHIFT;
constexpr uint64_t PM_ADDR_MASK = genmask(51, 12);
constexpr uint64_t PM_LEVEL_ENC(uint64_t x) { return (x << PM_LEVEL_SHIFT) & PM_LEVEL_MASK; }

constexpr uint64_t DMA_PTE_READ = bit(0);
constexpr uint64_t DMA_PTE_WRITE = bit(1);
constexpr uint64_t DMA_PTE_LARGE_PAGE = bit(7);
constexpr uint64_t DMA_FL_PTE_PRESENT = bit(0);
constexpr uint64_t DMA_FL_PTE_US = bit(2);
constexpr uint64_t DMA_FL_PTE_ACCESS = bit(5);
constexpr uint64_t DMA_FL_PTE_DIRTY = bit(6);

uint64_t amd_leaf_attrs(const PtFormat& f, int prot, unsigned level, uint64_t pgsize) {
  uint64_t pte = IOMMU_PTE_PR | IOMMU_PTE_FC;
  // PAGE_SIZE_PTE: the address bits below the size say how large the page is.
  if (pgsize > f.at(level).leaf_size)
    pte |= ((pgsize - 1) & ~(pgsize >> 1) & PM_ADDR_MASK) | PM_LEVEL_ENC(7);
  if (prot & IOMMU_READ) pte |= IOMMU_PTE_IR;
  if (prot & IOMMU_WRITE) pte |= IOMMU_PTE_IW;
  return pte;
}

uint64_t amd_split_attrs(const PtFormat& f, uint64_t desc, unsigned, unsigned to_level,
                         uint64_t pgsize) {
  const int prot = ((desc & IOMMU_PTE_IR) ? IOMMU_READ : 0) |
                   ((desc & IOMMU_PTE_IW) ? IOMMU_WRITE : 0);
  return amd_leaf_attrs(f, prot, to_level, pgsize);
}

// PTE_PAGE_SIZE: the first zero address bit from bit 12 up is the size's top bit.
uint64_t amd_contig_size(const PtFormat&, uint64_t desc, unsigned) {
  return uint64_t{2} << ffs64_idx(~(desc | 0xfff));
}

// The 2M and 1G levels' pages carry PS (bit 7); at the 4K level that bit is something else.
uint64_t large_page(const PtFormat& f, unsigned level) {
  return level == f.last_level ? 0 : DMA_PTE_LARGE_PAGE;
}

uint64_t vtd_leaf_attrs(const PtFormat& f, int prot, unsigned level, uint64_t) {
  return large_page(f, level) | ((prot & IOMMU_READ) ? DMA_PTE_READ : 0) |
         ((prot & IOMMU_WRITE) ? DMA_PTE_WRITE : 0);
}

uint64_t x86_leaf_attrs(const PtFormat& f, int prot, unsigned level, uint64_t) {
  return large_page(f, level) | DMA_FL_PTE_PRESENT | DMA_FL_PTE_US | DMA_FL_PTE_ACCESS |
         ((prot & IOMMU_WRITE) ? DMA_PTE_WRITE | DMA_FL_PTE_DIRTY : 0);
}

// Every attribute means the same at every level; only PS comes and goes.
uint64_t x86_split_attrs(const PtFormat& f, uint64_t desc, unsigned, unsigned to_level,
                         uint64_t) {
  return (desc & ~(f.oa_field.mask() | DMA_PTE_LARGE_PAGE)) | large_page(f, to_level);
}

uint64_t no_contig(const PtFormat&, uint64_t, unsigned) { return 0; }

constexpr PtCodec kAmdV1{amd_leaf_attrs, amd_split_attrs, amd_contig_size};
constexpr PtCodec kVtdSs{vtd_leaf_attrs, x86_split_attrs, no_contig};
constexpr PtCodec kX86_64{x86_leaf_attrs, x86_split_attrs, no_contig};


}  // namespace

void amd_v1_pt_format(PtFormat& f) {
  f.codec = &kAmdV1;
  f.oa_field.lo_mask = PM_ADDR_MASK;
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    PtLevel& pl = f.levels[l];
    pl.present = IOMMU_PTE_PR;
    // A PDE names the level of the table it points to: AMD numbers the 4K level 1.
    const uint64_t next = f.last_level - l;
    pl.type = PM_LEVEL_MASK;
    pl.table = l < f.last_level ? PM_LEVEL_ENC(next) : 1;
    pl.table_attrs = PM_LEVEL_ENC(next) | IOMMU_PTE_PR | IOMMU_PTE_IR | IOMMU_PTE_IW;
    pl.contig = PM_LEVEL_MASK;
    pl.contig_value = PM_LEVEL_ENC(7);
  }
}

void x86_pt_format(PtFormat& f) {
  const bool vtd = f.hw->family() == hw::Family::kVtdSs;
  f.codec = vtd ? &kVtdSs : &kX86_64;
  f.oa_field.lo_mask = PM_ADDR_MASK;
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    PtLevel& pl = f.levels[l];
    pl.present = vtd ? DMA_PTE_READ | DMA_PTE_WRITE : DMA_FL_PTE_PRESENT;
    const bool tables = l < f.last_level;
    pl.type = tables ? DMA_PTE_LARGE_PAGE : 0;
    pl.table = tables ? 0 : 1;
    pl.table_attrs = vtd ? DMA_PTE_READ | DMA_PTE_WRITE
                         : DMA_FL_PTE_PRESENT | DMA_PTE_WRITE | DMA_FL_PTE_US | DMA_FL_PTE_ACCESS;
  }
}

}  // namespace iommu::impl
