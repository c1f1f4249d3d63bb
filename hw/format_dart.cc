// Apple DART (io-pgtable-dart.c): two levels of granule-sized tables below up to four TTBRs,
// pages only. DART1 keeps PA[35:12] in place; DART2 stores PA >> 4 in [37:10].
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

constexpr unsigned kLevels = 2;
constexpr unsigned kMaxTableBits = 2;  // DART_MAX_TABLES: four TTBRs
constexpr uint64_t kValid = bit(0);
constexpr uint64_t kSubpageStartMask = genmask(63, 52);
constexpr uint64_t kSubpageEndMask = genmask(51, 40);
constexpr uint64_t kSubpageWhole = uint64_t{0xfff} << 40;  // start 0, end 0xfff
constexpr uint64_t kDart1PaddrMask = genmask(35, 12);
constexpr uint64_t kDart1NoRead = bit(8);
constexpr uint64_t kDart1NoWrite = bit(7);
constexpr uint64_t kDart1SpDis = bit(1);
constexpr uint64_t kDart2PaddrMask = genmask(37, 10);
constexpr unsigned kDart2PaddrShift = 4;
constexpr uint64_t kDart2NoRead = bit(3);
constexpr uint64_t kDart2NoWrite = bit(2);
constexpr uint64_t kDart2NoCache = bit(1);

bool is_dart2(const Format& fmt) { return fmt.id() == FormatId::kAppleDart2; }

}  // namespace

Geometry dart_geometry(FormatId id, unsigned ias, unsigned oas, uint64_t granule) {
  if (granule == 0) granule = 1 << 14;
  // DART2 drops PA[13:10] with its shift, so its pages and tables are at least 16K.
  bool granule_ok = granule == (1 << 14) || (granule == (1 << 12) && id == FormatId::kAppleDart);
  if (!granule_ok)
    throw std::invalid_argument(fmt::format(
        "granule {:#x} not supported: apple-dart takes 0x1000 or 0x4000, apple-dart2 0x4000",
        granule));
  if (oas != 36 && oas != 42)
    throw std::invalid_argument(fmt::format("oas {} not supported: DART takes 36 or 42", oas));
  // Linux accepts oas 42 for DART1 too, but a DART1 descriptor holds PA bits 35:12 only: such
  // a table would silently drop the upper address bits of every mapping.
  if (id == FormatId::kAppleDart && oas > 36)
    throw std::invalid_argument(fmt::format(
        "oas {} not supported by apple-dart: its descriptors hold PA bits 35:12 (oas 36); "
        "42-bit DARTs use apple-dart2",
        oas));
  unsigned pg_shift = ffs64_idx(granule);
  unsigned bpl = pg_shift - 3;
  unsigned max_ias = std::min(oas, pg_shift + kLevels * bpl + kMaxTableBits);
  if (ias <= pg_shift || ias > max_ias)
    throw std::invalid_argument(fmt::format(
        "ias {} out of range: with this granule and oas DART takes {}..{}", ias, pg_shift + 1,
        max_ias));
  unsigned va_bits = ias - pg_shift;
  unsigned tbl_bits = va_bits > kLevels * bpl ? va_bits - kLevels * bpl : 0;
  Geometry g;
  g.desc_bytes = 8;
  g.granule = granule;
  g.ias = ias;
  g.oas = oas;
  g.start_level = 1;
  g.last_level = kLevels;
  g.pgsize_bitmap = granule;
  g.levels[1] = {2 * bpl + 3, bpl, granule, 0, true};
  g.levels[2] = {bpl + 3, bpl, granule, granule, false};
  g.pgd_bytes = granule;
  g.n_ttbrs = 1u << tbl_bits;
  g.ttbr_shift = 3 * bpl + 3;
  return g;
}

namespace {

uint64_t paddr_to_pte(const Format& fmt, uint64_t paddr) {
  if (is_dart2(fmt)) return (paddr >> kDart2PaddrShift) & kDart2PaddrMask;
  return paddr & kDart1PaddrMask;
}

uint64_t pte_to_paddr(const Format& fmt, uint64_t pte) {
  if (is_dart2(fmt)) return (pte & kDart2PaddrMask) << kDart2PaddrShift;
  return pte & kDart1PaddrMask;
}

uint64_t dart_make_table(const Format& fmt, uint64_t paddr, unsigned) {
  return paddr_to_pte(fmt, paddr) | kValid;
}

uint64_t prot_bits(const Format& fmt, int prot) {
  uint64_t pte = 0;
  if (is_dart2(fmt)) {
    if (!(prot & IOMMU_WRITE)) pte |= kDart2NoWrite;
    if (!(prot & IOMMU_READ)) pte |= kDart2NoRead;
    if (!(prot & IOMMU_CACHE)) pte |= kDart2NoCache;
  } else {
    if (!(prot & IOMMU_WRITE)) pte |= kDart1NoWrite;
    if (!(prot & IOMMU_READ)) pte |= kDart1NoRead;
  }
  return pte;
}

// Linux sets SP_DIS (bit 1) for DART2 as well, where that bit means NO_CACHE.
uint64_t dart_make_leaf(const Format& fmt, uint64_t paddr, unsigned, uint64_t, int prot) {
  return prot_bits(fmt, prot) | kSubpageWhole | kDart1SpDis | kValid | paddr_to_pte(fmt, paddr);
}

bool subpage_limited(const Format& fmt, uint64_t desc) {
  if (!is_dart2(fmt) && (desc & kDart1SpDis)) return false;
  return (desc & (kSubpageStartMask | kSubpageEndMask)) != kSubpageWhole;
}

Decoded dart_decode(const Format& fmt, uint64_t desc, unsigned level) {
  if (!(desc & kValid)) return {};
  Decoded d;
  d.paddr = pte_to_paddr(fmt, desc);
  if (level == 1) {
    d.kind = DescKind::kTable;
    return d;
  }
  if (subpage_limited(fmt, desc)) {
    d.kind = DescKind::kReserved;
    d.why = "subpage window narrower than the page (Linux always maps whole pages)";
    return d;
  }
  d.kind = DescKind::kLeaf;
  d.size = fmt.geo().granule;
  uint64_t no_read = is_dart2(fmt) ? kDart2NoRead : kDart1NoRead;
  uint64_t no_write = is_dart2(fmt) ? kDart2NoWrite : kDart1NoWrite;
  d.perms = {.read = !(desc & no_read), .write = !(desc & no_write), .exec = true};
  bool cached = is_dart2(fmt) && !(desc & kDart2NoCache);
  d.prot = (d.perms.read ? IOMMU_READ : 0) | (d.perms.write ? IOMMU_WRITE : 0) |
           (cached ? IOMMU_CACHE : 0);
  if (!is_aligned(d.paddr, d.size)) {
    d.kind = DescKind::kReserved;
    d.why = "page address not aligned to the granule";
  }
  return d;
}

}  // namespace

const Codec kDartCodec{dart_decode, dart_make_table, dart_make_leaf};

}  // namespace iommu::hw
