// AMD IOMMU v1 host page tables (AMD I/O Virtualization Technology (IOMMU) Specification, 48882
// rev 3.x, 2.2.3 "I/O Page Tables for Host Translations"), as drivers/iommu/amd/io_pgtable.c
// writes them. Our level L is AMD level 6 - L: AMD level 1 (4K pages) is our level 5, and a
// paging-mode-N table starts at our level 6 - N.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

constexpr unsigned kTopAmdLevel = 6;  // paging mode 6
constexpr unsigned kLastLevel = kTopAmdLevel - 1;
constexpr unsigned kBitsPerLevel = 9;
constexpr unsigned kMinOas = 32;
constexpr unsigned kMaxOas = 52;

// PDE and PTE fields (spec: "I/O Page Directory Entry" and "I/O Page Table Entry" tables).
constexpr uint64_t kPr = bit(0);
constexpr uint64_t kAccessed = bit(5);
constexpr uint64_t kDirty = bit(6);
constexpr unsigned kNextLevelShift = 9;  // NextLevel, bits 11:9
constexpr uint64_t kNextLevelMask = 7;
constexpr uint64_t kAddrMask = genmask(51, 12);
constexpr uint64_t kFc = bit(60);
constexpr uint64_t kIr = bit(61);
constexpr uint64_t kIw = bit(62);
constexpr unsigned kNextLevelPage = 0;   // a page of the level's own size
constexpr unsigned kNextLevelSized = 7;  // a page whose size the low address bits encode

// AMD_IOMMU_PGSIZES: every power of two from 4K to 2^51 but 512G (a hardware erratum).
constexpr uint64_t kLinuxPgsizes = genmask(51, 12) ^ bit(39);

constexpr unsigned amd_level(unsigned level) { return kTopAmdLevel - level; }
// iova bit where AMD level `a`'s index starts; also log2 of its own page size.
constexpr unsigned amd_shift(unsigned a) { return 12 + kBitsPerLevel * (a - 1); }
constexpr unsigned mode_ias(unsigned mode) { return std::min(64u, amd_shift(mode + 1)); }

}  // namespace

Geometry amd_v1_geometry(unsigned ias, unsigned oas) {
  unsigned mode = 1;
  while (mode < kTopAmdLevel && mode_ias(mode) != ias) mode++;
  if (mode_ias(mode) != ias)
    throw std::invalid_argument(fmt::format(
        "ias {} not supported: amd-v1 takes 21, 30, 39, 48, 57 or 64 (paging modes 1 to 6)", ias));
  if (oas < kMinOas || oas > kMaxOas)
    throw std::invalid_argument(
        fmt::format("oas {} out of range: amd-v1 takes {}..{}", oas, kMinOas, kMaxOas));
  Geometry g;
  g.desc_bytes = 8;
  g.granule = 1 << 12;
  g.ias = ias;
  g.oas = oas;
  g.start_level = kTopAmdLevel - mode;
  g.last_level = kLastLevel;
  g.pgsize_bitmap = kLinuxPgsizes & low_mask(ias);
  for (unsigned l = g.start_level; l <= kLastLevel; l++) {
    const unsigned a = amd_level(l);
    LevelGeometry& lg = g.levels[l];
    lg.shift = amd_shift(a);
    // Mode 6's level-6 table indexes iova bits 63:57 only; every table is still a 4K page.
    lg.index_bits = std::min(kBitsPerLevel, ias - lg.shift);
    lg.table_bytes = 4096;
    lg.leaf_size = a < kTopAmdLevel ? bit(lg.shift) : 0;
    lg.has_tables = a > 1;
  }
  g.pgd_bytes = 4096;
  return g;
}

namespace {

Decoded decode_pde(uint64_t desc, unsigned a, unsigned next) {
  if (next >= a) return reserved("PDE NextLevel not below the PDE's own level");
  Decoded d;
  d.kind = DescKind::kTable;
  d.paddr = desc & kAddrMask;
  d.skip = a - 1 - next;
  d.limit = {.read = (desc & kIr) != 0, .write = (desc & kIw) != 0, .exec = true};
  return d;
}

Decoded page(uint64_t desc, uint64_t paddr, uint64_t size) {
  Decoded d;
  d.kind = DescKind::kLeaf;
  d.paddr = paddr;
  d.size = size;
  // Host tables have no execute or privilege control.
  d.perms = {.read = (desc & kIr) != 0, .write = (desc & kIw) != 0, .exec = true};
  d.prot = (d.perms.read ? IOMMU_READ : 0) | (d.perms.write ? IOMMU_WRITE : 0) |
           ((desc & kFc) ? IOMMU_CACHE : 0);
  return d;
}

// NextLevel 7: the page is 2^n bytes when address bit n-1 is the lowest zero one (bits
// n-2..12 all ones), spanning 2^n / (the level's page size) identical entries.
Decoded decode_sized_page(uint64_t desc, unsigned a) {
  const unsigned n = 12 + static_cast<unsigned>(std::countr_one((desc & kAddrMask) >> 12)) + 1;
  if (n > 52) return reserved("NextLevel 7 with address bits 51:12 all ones encodes no size");
  const unsigned own = amd_shift(a);
  if (n <= own) return reserved("NextLevel-7 page size not above the level's own page size");
  if (n >= own + kBitsPerLevel)
    return reserved("NextLevel-7 page size as large as the next level's (the whole table)");
  Decoded d = page(desc, desc & kAddrMask & ~low_mask(n), bit(n));
  d.replicas = 1u << (n - own);
  return d;
}

Decoded amd_decode(const Format&, uint64_t desc, unsigned level) {
  if (!(desc & kPr)) return {};
  const unsigned a = amd_level(level);
  const auto next = static_cast<unsigned>((desc >> kNextLevelShift) & kNextLevelMask);
  if (next != kNextLevelPage && next != kNextLevelSized) return decode_pde(desc, a, next);
  if (a == kTopAmdLevel) return reserved("a page at level 6, which holds only PDEs");
  if (next == kNextLevelSized) return decode_sized_page(desc, a);
  const uint64_t size = bit(amd_shift(a));
  if (!is_aligned(desc & kAddrMask, size))
    return reserved("page address not aligned to the level's page size");
  return page(desc, desc & kAddrMask, size);
}

// PM_LEVEL_PDE: the next level's AMD number, with IR, IW and PR.
uint64_t amd_make_table(const Format&, uint64_t paddr, unsigned level) {
  const uint64_t next = amd_level(level) - 1;
  return (paddr & kAddrMask) | (next << kNextLevelShift) | kIr | kIw | kPr;
}

// iommu_v1_map_pages: FC always; a page larger than the level's own is PAGE_SIZE_PTE with
// NextLevel 7, written in each entry it spans.
uint64_t amd_make_leaf(const Format& fmt, uint64_t paddr, unsigned level, uint64_t pgsize,
                       int prot) {
  uint64_t pte = kPr | kFc;
  if (pgsize > fmt.geo().at(level).leaf_size)
    pte |= ((paddr | (pgsize - 1)) & ~(pgsize >> 1) & kAddrMask) |
           (uint64_t{kNextLevelSized} << kNextLevelShift);
  else
    pte |= paddr & kAddrMask;
  if (prot & IOMMU_READ) pte |= kIr;
  if (prot & IOMMU_WRITE) pte |= kIw;
  return pte;
}

std::string_view amd_level_name(unsigned level) {
  static constexpr std::array<std::string_view, kTopAmdLevel> kNames{
      "level 6", "level 5", "level 4", "level 3", "level 2", "level 1"};
  return level < kNames.size() ? kNames[level] : std::string_view{};
}

}  // namespace

const Codec kAmdV1Codec{amd_decode, amd_make_table, amd_make_leaf, kAccessed | kDirty,
                        amd_level_name};

}  // namespace iommu::hw
