// The x86 4- and 5-level layout, read two ways:
// - vtd-ss: Intel VT-d second-stage tables (VT-d spec 3.x, 9.8 "Second-Stage Paging Entries"),
//   R/W permissions, no present bit (R = W = 0 is not present);
// - x86-64: the first-stage format of VT-d (9.7) and AMD v2, as the Intel SDM vol. 3 4.5
//   "4-Level Paging and 5-Level Paging" defines it: P, R/W, U/S, A, D, PS, XD.
// Both are written as Linux 6.12's drivers/iommu/intel/iommu.c writes them (second level and
// first level). Our levels: 0 PML5, 1 PML4, 2 PDPT, 3 PD, 4 PT.
#include <fmt/format.h>

#include <array>
#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

constexpr unsigned kLastLevel = 4;  // PT
constexpr unsigned kBitsPerLevel = 9;
constexpr unsigned kMinOas = 32;
constexpr unsigned kMaxOas = 52;
constexpr uint64_t kAddrMask = genmask(51, 12);
constexpr uint64_t kPs = bit(7);  // PDPTE/PDE: maps a 1G/2M page; reserved in PML4E/PML5E

// VT-d second stage (DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_SNP).
constexpr uint64_t kSsRead = bit(0);
constexpr uint64_t kSsWrite = bit(1);
constexpr uint64_t kSsSnoop = bit(11);

// x86-64 first stage (DMA_FL_PTE_PRESENT, _US, _ACCESS, _DIRTY; R/W is DMA_PTE_WRITE).
constexpr uint64_t kPresent = bit(0);
constexpr uint64_t kRw = bit(1);
constexpr uint64_t kUs = bit(2);
constexpr uint64_t kAccessed = bit(5);
constexpr uint64_t kDirty = bit(6);
constexpr unsigned kPatBit = 12;  // PAT in a 2M or 1G entry; not an address bit there
constexpr uint64_t kXd = bit(63);

constexpr unsigned level_shift(unsigned level) { return 12 + kBitsPerLevel * (kLastLevel - level); }

}  // namespace

Geometry x86_geometry(FormatId id, unsigned ias, unsigned oas) {
  const std::string_view name = id == FormatId::kVtdSs ? "vtd-ss" : "x86-64";
  if (ias != 48 && ias != 57)
    throw std::invalid_argument(
        fmt::format("ias {} not supported: {} takes 48 (4-level) or 57 (5-level)", ias, name));
  if (oas < kMinOas || oas > kMaxOas)
    throw std::invalid_argument(
        fmt::format("oas {} out of range: {} takes {}..{}", oas, name, kMinOas, kMaxOas));
  Geometry g;
  g.desc_bytes = 8;
  g.granule = 1 << 12;
  g.ias = ias;
  g.oas = oas;
  g.start_level = ias == 57 ? 0 : 1;
  g.last_level = kLastLevel;
  g.pgsize_bitmap = bit(12) | bit(21) | bit(30);
  for (unsigned l = g.start_level; l <= kLastLevel; l++) {
    LevelGeometry& lg = g.levels[l];
    lg.shift = level_shift(l);
    lg.index_bits = kBitsPerLevel;
    lg.table_bytes = 4096;
    lg.leaf_size = (g.pgsize_bitmap & bit(lg.shift)) ? bit(lg.shift) : 0;
    lg.has_tables = l < kLastLevel;
  }
  g.pgd_bytes = 4096;
  return g;
}

namespace {

// What a present entry is by its level and PS: a table, or a leaf of `size`, or reserved.
Decoded shape(const Format& fmt, uint64_t desc, unsigned level) {
  Decoded d;
  const uint64_t size = fmt.geo().at(level).leaf_size;
  if (level < kLastLevel && !(desc & kPs)) {
    d.kind = DescKind::kTable;
    d.paddr = desc & kAddrMask;
    return d;
  }
  if (!size) return reserved("PS set in a PML4 or PML5 entry (reserved)");
  d.kind = DescKind::kLeaf;
  d.size = size;
  d.paddr = desc & kAddrMask & ~(size - 1);
  return d;
}

Decoded vtd_decode(const Format& fmt, uint64_t desc, unsigned level) {
  if (!(desc & (kSsRead | kSsWrite))) return {};
  Decoded d = shape(fmt, desc, level);
  const Perms rw{.read = (desc & kSsRead) != 0, .write = (desc & kSsWrite) != 0, .exec = true};
  if (d.kind == DescKind::kTable) d.limit = rw;
  if (d.kind != DescKind::kLeaf) return d;
  if (d.size > bit(12) && (desc & genmask(ffs64_idx(d.size) - 1, 12)))
    return reserved("address bits below the 2M or 1G page size set (reserved)");
  d.perms = rw;
  d.prot = (rw.read ? IOMMU_READ : 0) | (rw.write ? IOMMU_WRITE : 0) |
           ((desc & kSsSnoop) ? IOMMU_CACHE : 0);
  return d;
}

Perms x86_perms(uint64_t desc) {
  return {
      .read = true, .write = (desc & kRw) != 0, .exec = !(desc & kXd), .priv_only = !(desc & kUs)};
}

Decoded x86_decode(const Format& fmt, uint64_t desc, unsigned level) {
  if (!(desc & kPresent)) return {};
  Decoded d = shape(fmt, desc, level);
  if (d.kind == DescKind::kTable) d.limit = x86_perms(desc);
  if (d.kind != DescKind::kLeaf) return d;
  if (d.size > bit(12) && (desc & genmask(ffs64_idx(d.size) - 1, kPatBit + 1)))
    return reserved("address bits below the 2M or 1G page size set (reserved; bit 12 is PAT)");
  d.perms = x86_perms(desc);
  d.prot = IOMMU_READ | (d.perms.write ? IOMMU_WRITE : 0) | (d.perms.exec ? 0 : IOMMU_NOEXEC) |
           (d.perms.priv_only ? IOMMU_PRIV : 0);
  return d;
}

uint64_t page_size_bit(unsigned level) { return level < kLastLevel ? kPs : 0; }

// pfn_to_dma_pte: DMA_PTE_READ | DMA_PTE_WRITE.
uint64_t vtd_make_table(const Format&, uint64_t paddr, unsigned) {
  return (paddr & kAddrMask) | kSsRead | kSsWrite;
}

// __domain_mapping for a second-level domain: R and W from prot; no SNP, which Linux sets only
// once a domain enforces cache coherency (VFIO, iommufd), not for the DMA API's domains.
uint64_t vtd_make_leaf(const Format&, uint64_t paddr, unsigned level, uint64_t, int prot) {
  uint64_t pte = (paddr & kAddrMask) | page_size_bit(level);
  if (prot & IOMMU_READ) pte |= kSsRead;
  if (prot & IOMMU_WRITE) pte |= kSsWrite;
  return pte;
}

// pfn_to_dma_pte for a first-level domain: R/W, with US and ACCESS.
uint64_t x86_make_table(const Format&, uint64_t paddr, unsigned) {
  return (paddr & kAddrMask) | kPresent | kRw | kUs | kAccessed;
}

// __domain_mapping for a first-level domain: PRESENT, US and ACCESS always; WRITE gives R/W and
// DIRTY. A write-only prot so becomes read-write: x86 cannot express write without read.
uint64_t x86_make_leaf(const Format&, uint64_t paddr, unsigned level, uint64_t, int prot) {
  uint64_t pte = (paddr & kAddrMask) | page_size_bit(level) | kPresent | kUs | kAccessed;
  if (prot & IOMMU_WRITE) pte |= kRw | kDirty;
  return pte;
}

std::string_view x86_level_name(unsigned level) {
  static constexpr std::array<std::string_view, kLastLevel + 1> kNames{"PML5", "PML4", "PDPT", "PD",
                                                                       "PT"};
  return level < kNames.size() ? kNames[level] : std::string_view{};
}

}  // namespace

const Codec kVtdSsCodec{vtd_decode, vtd_make_table, vtd_make_leaf, 0, x86_level_name};
const Codec kX86_64Codec{x86_decode, x86_make_table, x86_make_leaf, 0, x86_level_name};

}  // namespace iommu::hw
