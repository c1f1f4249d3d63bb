// ARM LPAE / VMSAv8-64 long descriptors (io-pgtable-arm.c): the 64-bit stage-1 and stage-2
// formats, their 32-bit (LPAE on ARMv7) variants and Mali's.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

constexpr unsigned kLpaeLevels = 4;
constexpr unsigned kConcatMax = 16;  // ARM_LPAE_S2_MAX_CONCAT_PAGES

constexpr uint64_t kTypeMask = 3;
constexpr uint64_t kTypeBlock = 1;
constexpr uint64_t kTypeTable = 3;
constexpr uint64_t kTypePage = 3;
constexpr uint64_t kAddrMask = genmask(47, 12);
constexpr uint64_t kXn = genmask(54, 53);
constexpr uint64_t kAf = bit(10);
constexpr uint64_t kShOs = uint64_t{2} << 8;
constexpr uint64_t kShIs = uint64_t{3} << 8;
constexpr uint64_t kNg = bit(11);
constexpr uint64_t kApRdonly = bit(7);  // stage 1 AP[2]
constexpr uint64_t kApUnpriv = bit(6);  // stage 1 AP[1]
constexpr uint64_t kHapRead = bit(6);   // stage 2 (and Mali)
constexpr uint64_t kHapWrite = bit(7);
constexpr unsigned kAttrIndxShift = 2;
constexpr uint64_t kAttrIndxMask = uint64_t{7} << kAttrIndxShift;
constexpr uint64_t kAttrIdxCache = 1;
constexpr uint64_t kAttrIdxDev = 2;
constexpr uint64_t kMemAttrMask = uint64_t{0xf} << 2;
constexpr uint64_t kMemAttrOiwb = uint64_t{0xf} << 2;
constexpr uint64_t kMemAttrNc = uint64_t{0x5} << 2;
constexpr uint64_t kMemAttrDev = uint64_t{0x1} << 2;

struct LpaeLimits {
  uint64_t granule;
  unsigned max_ias;
  unsigned max_oas;
  bool oas_from_ips;  // oas must be one the TCR.IPS / VTCR.PS field can express
};

LpaeLimits limits_for(FormatId id) {
  switch (id) {
    case FormatId::kArm64LpaeS1_4k:
    case FormatId::kArm64LpaeS2_4k: return {1 << 12, 48, 48, true};
    case FormatId::kArm64LpaeS1_16k:
    case FormatId::kArm64LpaeS2_16k: return {1 << 14, 48, 48, true};
    case FormatId::kArm64LpaeS1_64k:
    case FormatId::kArm64LpaeS2_64k: return {1 << 16, 52, 52, true};
    case FormatId::kArm32LpaeS1: return {1 << 12, 32, 40, true};
    case FormatId::kArm32LpaeS2: return {1 << 12, 40, 40, true};
    case FormatId::kArmMaliLpae: return {1 << 12, 48, 40, false};
    default: throw std::logic_error("not an LPAE format");
  }
}

bool stage2(FormatId id) {
  return id == FormatId::kArm64LpaeS2_4k || id == FormatId::kArm64LpaeS2_16k ||
         id == FormatId::kArm64LpaeS2_64k || id == FormatId::kArm32LpaeS2;
}

void check_limits(const LpaeLimits& lim, unsigned ias, unsigned oas) {
  constexpr std::array<unsigned, 7> kIps{32, 36, 40, 42, 44, 48, 52};
  if (ias < 32 || ias > lim.max_ias)
    throw std::invalid_argument(fmt::format("ias {} out of range: this format takes 32..{}", ias,
                                            lim.max_ias));
  bool oas_ok = oas >= 32 && oas <= lim.max_oas &&
                (!lim.oas_from_ips || std::find(kIps.begin(), kIps.end(), oas) != kIps.end());
  if (!oas_ok)
    throw std::invalid_argument(fmt::format(
        "oas {} not supported: this format takes {} up to {}", oas,
        lim.oas_from_ips ? "one of 32, 36, 40, 42, 44, 48, 52" : "32", lim.max_oas));
}

uint64_t pgsize_bitmap(uint64_t granule, unsigned oas) {
  switch (granule) {
    case 1 << 12: return bit(12) | bit(21) | bit(30);
    case 1 << 14: return bit(14) | bit(25);
    default: return bit(16) | bit(29) | (oas > 48 ? bit(42) : 0);
  }
}

// Where the walk of an ias starts: the level the va bits give, and the index width there.
struct Start {
  unsigned level;
  unsigned pgd_bits;
};

// The start levels a format can walk from, for the error that names them.
std::string start_choices(const Start& natural, bool can_concat) {
  if (!can_concat) return fmt::format("level {}", natural.level);
  return fmt::format("level {}, or level {} with {} concatenated tables", natural.level,
                     natural.level + 1, 1u << natural.pgd_bits);
}

// The start level asked for, or Linux 6.12's choice: a stage-2 table concatenates the level-1
// tables whenever level 0 would have at most 16 entries (newer kernels only where the
// architecture requires it, so they declare their start level).
Start pick_start(const Start& natural, unsigned bpl, bool can_concat,
                 std::optional<unsigned> asked, unsigned ias) {
  const bool concat = asked ? *asked == natural.level + 1 : can_concat && natural.level == 0;
  if (asked && *asked != natural.level && !(can_concat && concat))
    throw std::invalid_argument(
        fmt::format("start level {} not possible at ias {}: this format starts at {}", *asked,
                    ias, start_choices(natural, can_concat)));
  if (!concat) return natural;
  return {natural.level + 1, natural.pgd_bits + bpl};
}

}  // namespace

Geometry lpae_geometry(FormatId id, unsigned ias, unsigned oas,
                       std::optional<unsigned> start_level) {
  LpaeLimits lim = limits_for(id);
  check_limits(lim, ias, oas);
  Geometry g;
  g.desc_bytes = 8;
  g.granule = lim.granule;
  g.ias = ias;
  g.oas = oas;
  g.pgsize_bitmap = pgsize_bitmap(lim.granule, oas);
  unsigned pg_shift = ffs64_idx(lim.granule);
  unsigned bpl = pg_shift - 3;
  unsigned va_bits = ias - pg_shift;
  unsigned levels = (va_bits + bpl - 1) / bpl;
  Start natural{kLpaeLevels - levels, va_bits - bpl * (levels - 1)};
  // Mali needs a full 4-level walk whatever the ias: a one-entry level-0 table.
  if (id == FormatId::kArmMaliLpae) natural = {0, natural.level > 0 ? 0 : natural.pgd_bits};
  // A stage-2 walk may start at the next level instead, from up to 16 concatenated tables, as
  // long as those still hold tables.
  const bool can_concat = stage2(id) && natural.level + 1 < kLpaeLevels - 1 &&
                          (uint64_t{1} << natural.pgd_bits) <= kConcatMax;
  const Start start = pick_start(natural, bpl, can_concat, start_level, ias);
  g.pgd_concat = start.level == natural.level ? 1 : 1u << natural.pgd_bits;
  g.start_level = start.level;
  g.last_level = kLpaeLevels - 1;
  for (unsigned l = start.level; l < kLpaeLevels; l++) {
    LevelGeometry& lg = g.levels[l];
    lg.shift = (kLpaeLevels - l) * bpl + 3;
    lg.index_bits = l == start.level ? start.pgd_bits : bpl;
    lg.table_bytes = uint64_t{8} << lg.index_bits;
    lg.leaf_size = (g.pgsize_bitmap & bit(lg.shift)) ? bit(lg.shift) : 0;
    lg.has_tables = l + 1 < kLpaeLevels;
  }
  g.pgd_bytes = g.levels[start.level].table_bytes;
  return g;
}

namespace {

// Linux packs PA[51:48] into PTE[15:12]; harmless below 48 bits, so it is done for all granules.
uint64_t pack_paddr(uint64_t paddr) { return (paddr | (paddr >> (48 - 12))) & kAddrMask; }

uint64_t unpack_paddr(const Format& fmt, uint64_t desc) {
  uint64_t a = desc & kAddrMask;
  if (fmt.geo().granule < (1 << 16)) return a;
  return (a | (a << (48 - 12))) & (kAddrMask << 4);
}

bool is_stage1(const Format& fmt) { return !fmt.is_stage2() && !fmt.is_mali(); }

uint64_t lpae_make_table(const Format&, uint64_t paddr, unsigned) {
  return pack_paddr(paddr) | kTypeTable;
}

uint64_t prot_bits(const Format& fmt, int prot) {
  uint64_t pte = 0;
  if (is_stage1(fmt)) {
    pte |= kNg;
    if (!(prot & IOMMU_WRITE) && (prot & IOMMU_READ)) pte |= kApRdonly;
    if (!(prot & IOMMU_PRIV)) pte |= kApUnpriv;
  } else {
    if (prot & IOMMU_READ) pte |= kHapRead;
    if (prot & IOMMU_WRITE) pte |= kHapWrite;
  }
  if (fmt.is_stage2()) {
    pte |= (prot & IOMMU_MMIO) ? kMemAttrDev : (prot & IOMMU_CACHE) ? kMemAttrOiwb : kMemAttrNc;
  } else if (prot & IOMMU_MMIO) {
    pte |= kAttrIdxDev << kAttrIndxShift;
  } else if (prot & IOMMU_CACHE) {
    pte |= kAttrIdxCache << kAttrIndxShift;
  }
  pte |= ((prot & IOMMU_CACHE) && !fmt.is_mali()) ? kShIs : kShOs;
  if (prot & IOMMU_NOEXEC) pte |= kXn;
  if (!fmt.is_mali()) pte |= kAf;
  return pte;
}

uint64_t leaf_type(const Format& fmt, unsigned level) {
  return (level == fmt.geo().last_level && !fmt.is_mali()) ? kTypePage : kTypeBlock;
}

uint64_t lpae_make_leaf(const Format& fmt, uint64_t paddr, unsigned level, uint64_t,
                        int prot) {
  return prot_bits(fmt, prot) | leaf_type(fmt, level) | pack_paddr(paddr);
}

int memtype_prot(const Format& fmt, uint64_t desc) {
  if (fmt.is_stage2()) {
    uint64_t attr = desc & kMemAttrMask;
    return attr == kMemAttrOiwb ? IOMMU_CACHE : attr == kMemAttrDev ? IOMMU_MMIO : 0;
  }
  uint64_t idx = (desc & kAttrIndxMask) >> kAttrIndxShift;
  return idx == kAttrIdxCache ? IOMMU_CACHE : idx == kAttrIdxDev ? IOMMU_MMIO : 0;
}

void decode_perms(const Format& fmt, uint64_t desc, Decoded& d) {
  d.perms.exec = (desc & kXn) == 0;
  if (is_stage1(fmt)) {
    d.perms.read = true;
    d.perms.write = !(desc & kApRdonly);
    d.perms.priv_only = !(desc & kApUnpriv);
  } else {
    d.perms.read = desc & kHapRead;
    d.perms.write = desc & kHapWrite;
  }
  d.prot = (d.perms.read ? IOMMU_READ : 0) | (d.perms.write ? IOMMU_WRITE : 0) |
           (d.perms.exec ? 0 : IOMMU_NOEXEC) | (d.perms.priv_only ? IOMMU_PRIV : 0) |
           memtype_prot(fmt, desc);
  d.af = fmt.is_mali() || (desc & kAf);
}

Decoded decode_table(const Format& fmt, uint64_t desc) {
  uint64_t paddr = unpack_paddr(fmt, desc);
  if (!is_aligned(paddr, fmt.geo().granule))
    return reserved("table address not aligned to the granule (RES0 bits set)");
  Decoded d;
  d.kind = DescKind::kTable;
  d.paddr = paddr;
  return d;
}

Decoded lpae_decode(const Format& fmt, uint64_t desc, unsigned level) {
  if (!(desc & 1)) return {};
  const LevelGeometry& lg = fmt.geo().at(level);
  uint64_t type = desc & kTypeMask;
  if (lg.has_tables && type == kTypeTable) return decode_table(fmt, desc);
  if (type != leaf_type(fmt, level))
    return reserved(fmt.is_mali() ? "type 0b11 at the last level (Mali pages are 0b01)"
                                  : "type 0b01 at the last level");
  if (!lg.leaf_size) return reserved("block descriptor at a level with no block size");
  Decoded d;
  d.kind = DescKind::kLeaf;
  d.paddr = unpack_paddr(fmt, desc);
  d.size = lg.leaf_size;
  if (!is_aligned(d.paddr, d.size))
    return reserved("output address not aligned to the block size (RES0 bits set)");
  decode_perms(fmt, desc, d);
  return d;
}

}  // namespace

const Codec kLpaeCodec{lpae_decode, lpae_make_table, lpae_make_leaf};

}  // namespace iommu::hw
