// RISC-V Sv39/Sv48/Sv57 as the engine writes them (Linux 7.2's generic_pt riscv format with
// Svpbmt, as the RISC-V IOMMU driver uses it): a valid entry without R, W or X is a table;
// 64K pages are 16 identical Svnapot entries.
#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_format.h"

namespace iommu::impl {
namespace {

constexpr uint64_t _PAGE_PRESENT = bit(0);
constexpr uint64_t _PAGE_READ = bit(1);
constexpr uint64_t _PAGE_WRITE = bit(2);
constexpr uint64_t _PAGE_EXEC = bit(3);
constexpr uint64_t _PAGE_USER = bit(4);
constexpr uint64_t _PAGE_ACCESSED = bit(6);
constexpr uint64_t _PAGE_DIRTY = bit(7);
constexpr uint64_t _PAGE_NOCACHE_SVPBMT = uint64_t{1} << 61;
constexpr uint64_t _PAGE_IO_SVPBMT = uint64_t{2} << 61;
constexpr uint64_t _PAGE_NAPOT = bit(63);
constexpr uint64_t _PAGE_PFN_MASK = genmask(53, 10);
constexpr uint64_t NAPOT_64K_PPN = uint64_t{0x8} << 10;  // ppn[3:0] = 0b1000
constexpr uint64_t kRwx = _PAGE_READ | _PAGE_WRITE | _PAGE_EXEC;

uint64_t leaf_attrs(const PtFormat& f, int prot, unsigned level, uint64_t pgsize) {
  uint64_t pte = _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_USER;
  if (prot & IOMMU_WRITE) pte |= _PAGE_WRITE | _PAGE_READ | _PAGE_DIRTY;
  if (prot & IOMMU_READ) pte |= _PAGE_READ;
  if (!(prot & IOMMU_NOEXEC)) pte |= _PAGE_EXEC;
  if (prot & IOMMU_MMIO)
    pte |= _PAGE_IO_SVPBMT;
  else if (!(prot & IOMMU_CACHE))
    pte |= _PAGE_NOCACHE_SVPBMT;
  if (pgsize > f.at(level).leaf_size) pte |= _PAGE_NAPOT | NAPOT_64K_PPN;
  return pte;
}

// Every attribute means the same at every level; only the Svnapot encoding comes and goes.
uint64_t split_attrs(const PtFormat& f, uint64_t desc, unsigned, unsigned to_level,
                     uint64_t pgsize) {
  const uint64_t attrs = desc & ~(_PAGE_PFN_MASK | _PAGE_NAPOT);
  return pgsize > f.at(to_level).leaf_size ? attrs | _PAGE_NAPOT | NAPOT_64K_PPN : attrs;
}

constexpr PtCodec kRiscv{leaf_attrs, split_attrs, sixteen_entries};

}  // namespace

void riscv_pt_format(PtFormat& f) {
  f.codec = &kRiscv;
  f.oa_field.lo_mask = _PAGE_PFN_MASK;
  f.oa_field.lo_shift = 2;  // PPN at bit 10 holds pa >> 12
  for (unsigned l = f.start_level; l <= f.last_level; l++) {
    PtLevel& pl = f.levels[l];
    pl.present = _PAGE_PRESENT;
    pl.type = kRwx;
    pl.table = l < f.last_level ? 0 : 1;
    pl.table_attrs = _PAGE_PRESENT;
    pl.contig = _PAGE_NAPOT;
    pl.contig_value = _PAGE_NAPOT;
  }
}

}  // namespace iommu::impl
