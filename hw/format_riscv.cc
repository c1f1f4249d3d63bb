// RISC-V Sv39/Sv48/Sv57 page tables (privileged spec, "Page-Based Virtual-Memory Systems"), as
// the RISC-V IOMMU uses them for first-stage translation. Leaves at every level, 64K Svnapot
// leaves at the 4K level. The encoding is Linux 7.2's generic_pt riscv format
// (generic_pt/fmt/riscv.h), the one the RISC-V IOMMU driver writes (Linux 6.12 has no RISC-V
// IOMMU driver; it arrived in 6.13).
#include <fmt/format.h>

#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

// The leaf-most level; Sv39 starts at 2, Sv48 at 1, Sv57 at 0 (generic_pt's level is 4 - ours).
constexpr unsigned kLastLevel = 4;
constexpr unsigned kBitsPerLevel = 9;
constexpr unsigned kPageShift = 12;
constexpr unsigned kMaxOas = 56;  // PPN is 44 bits
constexpr unsigned kNapotEntries = 16;

constexpr uint64_t kV = bit(0);
constexpr uint64_t kR = bit(1);
constexpr uint64_t kW = bit(2);
constexpr uint64_t kX = bit(3);
constexpr uint64_t kU = bit(4);
constexpr uint64_t kA = bit(6);
constexpr uint64_t kD = bit(7);
constexpr uint64_t kPpnMask = genmask(53, 10);
constexpr unsigned kPpnShift = 10;
constexpr uint64_t kReservedBits = genmask(60, 54);  // reserved for future standard use
constexpr unsigned kPbmtShift = 61;
constexpr uint64_t kPbmtMask = genmask(62, 61);
constexpr uint64_t kPbmtNc = 1;  // Svpbmt: non-cacheable, idempotent
constexpr uint64_t kPbmtIo = 2;  // Svpbmt: non-cacheable, I/O
constexpr uint64_t kPbmtReserved = 3;
constexpr uint64_t kN = bit(63);
// Svnapot: ppn[3:0] = 0b1000 names a 64 KiB range; every other pattern with N=1 is reserved.
constexpr uint64_t kNapotPpnMask = 0xf;
constexpr uint64_t kNapot64K = 0x8;
// Non-leaf PTEs: D, A, U, PBMT and N are reserved and must be zero.
constexpr uint64_t kTableReserved = kD | kA | kU | kPbmtMask | kN;

unsigned mode_ias(FormatId id) {
  switch (id) {
    case FormatId::kRiscvSv39:
      return 39;
    case FormatId::kRiscvSv48:
      return 48;
    case FormatId::kRiscvSv57:
      return 57;
    default:
      throw std::logic_error("not a RISC-V format");
  }
}

constexpr unsigned level_shift(unsigned level) {
  return kPageShift + kBitsPerLevel * (kLastLevel - level);
}

}  // namespace

Geometry riscv_geometry(FormatId id, unsigned ias, unsigned oas) {
  const unsigned mode = mode_ias(id);
  if (ias != mode)
    throw std::invalid_argument(
        fmt::format("ias {} not possible: Sv{} translates exactly {} bits", ias, mode, mode));
  if (oas < 32 || oas > kMaxOas)
    throw std::invalid_argument(
        fmt::format("oas {} out of range: the RISC-V formats take 32..{}", oas, kMaxOas));
  Geometry g;
  g.desc_bytes = 8;
  g.granule = bit(kPageShift);
  g.ias = ias;
  g.oas = oas;
  g.start_level = kLastLevel - (ias - kPageShift) / kBitsPerLevel + 1;
  g.last_level = kLastLevel;
  // Leaves at every level plus the 64K NAPOT leaf: the bitmap Linux 7.2's pt_possible_sizes
  // gives, none of them as large as the sign-extended half of the iova space.
  g.pgsize_bitmap = bit(16);
  for (unsigned l = g.start_level; l <= kLastLevel; l++) {
    g.levels[l] = {level_shift(l), kBitsPerLevel, uint64_t{8} << kBitsPerLevel, bit(level_shift(l)),
                   l < kLastLevel};
    g.pgsize_bitmap |= bit(level_shift(l));
  }
  g.pgd_bytes = g.levels[g.start_level].table_bytes;
  return g;
}

namespace {

uint64_t ppn_field(uint64_t paddr) { return ((paddr >> kPageShift) << kPpnShift) & kPpnMask; }
uint64_t field_paddr(uint64_t desc) { return ((desc & kPpnMask) >> kPpnShift) << kPageShift; }

uint64_t riscv_make_table(const Format&, uint64_t paddr, unsigned) { return kV | ppn_field(paddr); }

// riscvpt_iommu_set_prot with Svpbmt (the IOMMU's capabilities.Svpbmt set): A and U always, D
// with W, and W implies R.
uint64_t prot_bits(int prot) {
  uint64_t pte = kA | kU;
  if (prot & IOMMU_WRITE) pte |= kW | kR | kD;
  if (prot & IOMMU_READ) pte |= kR;
  if (!(prot & IOMMU_NOEXEC)) pte |= kX;
  if (prot & IOMMU_MMIO)
    pte |= kPbmtIo << kPbmtShift;
  else if (!(prot & IOMMU_CACHE))
    pte |= kPbmtNc << kPbmtShift;
  if (!(pte & (kR | kW | kX)))
    throw std::invalid_argument(fmt::format(
        "prot {:#x} grants neither read, write nor execute: Linux returns -EOPNOTSUPP", prot));
  return pte;
}

uint64_t riscv_make_leaf(const Format& fmt, uint64_t paddr, unsigned level, uint64_t pgsize,
                         int prot) {
  uint64_t pte = kV | prot_bits(prot) | ppn_field(paddr);
  if (pgsize > fmt.geo().at(level).leaf_size) pte |= kN | (kNapot64K << kPpnShift);
  return pte;
}

int memtype_prot(uint64_t pbmt) {
  return pbmt == kPbmtIo ? IOMMU_MMIO : pbmt == kPbmtNc ? 0 : IOMMU_CACHE;
}

Decoded decode_table(uint64_t desc) {
  if (desc & kTableReserved)
    return reserved("non-leaf PTE with D, A, U, PBMT or N set (reserved, must be zero)");
  Decoded d;
  d.kind = DescKind::kTable;
  d.paddr = field_paddr(desc);
  return d;
}

// The leaf's size and output address; a NAPOT leaf covers 16 entries of the 4K level.
Decoded leaf_extent(const Format& fmt, uint64_t desc, unsigned level) {
  Decoded d;
  d.kind = DescKind::kLeaf;
  d.paddr = field_paddr(desc);
  d.size = fmt.geo().at(level).leaf_size;
  if (!(desc & kN)) {
    if (!is_aligned(d.paddr, d.size))
      return reserved("misaligned superpage (low PPN bits of a large leaf set)");
    return d;
  }
  if (level != kLastLevel) return reserved("N (Svnapot) set on a leaf above the 4K level");
  if (((desc >> kPpnShift) & kNapotPpnMask) != kNapot64K)
    return reserved("N (Svnapot) set with a ppn[3:0] other than 0b1000 (64K)");
  d.paddr &= ~(bit(16) - 1);
  d.size = bit(16);
  d.replicas = kNapotEntries;
  return d;
}

Decoded decode_leaf(const Format& fmt, uint64_t desc, unsigned level) {
  if ((desc & (kR | kW)) == kW) return reserved("W without R (reserved encoding)");
  const uint64_t pbmt = (desc & kPbmtMask) >> kPbmtShift;
  if (pbmt == kPbmtReserved) return reserved("PBMT 3 (reserved)");
  Decoded d = leaf_extent(fmt, desc, level);
  if (d.kind != DescKind::kLeaf) return d;
  // No hardware A/D update: A=0 faults any access, D=0 faults a write.
  d.af = desc & kA;
  d.perms = {.read = (desc & kR) != 0,
             .write = (desc & kW) && (desc & kD),
             .exec = (desc & kX) != 0,
             .priv_only = !(desc & kU)};
  d.prot = (desc & kR ? IOMMU_READ : 0) | (desc & kW ? IOMMU_WRITE : 0) |
           (desc & kX ? 0 : IOMMU_NOEXEC) | (desc & kU ? 0 : IOMMU_PRIV) | memtype_prot(pbmt);
  return d;
}

Decoded riscv_decode(const Format& fmt, uint64_t desc, unsigned level) {
  if (!(desc & kV)) return {};
  if (desc & kReservedBits) return reserved("bits 60:54 set (reserved for future standard use)");
  if (!(desc & (kR | kW | kX))) {
    if (level == kLastLevel) return reserved("non-leaf PTE at the last level");
    return decode_table(desc);
  }
  return decode_leaf(fmt, desc, level);
}

}  // namespace

const Codec kRiscvCodec{riscv_decode, riscv_make_table, riscv_make_leaf};

}  // namespace iommu::hw
