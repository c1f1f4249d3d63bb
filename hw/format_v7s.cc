// ARMv7 short descriptors (io-pgtable-arm-v7s.c): 1 MiB sections and 16 MiB supersections at
// level 1, 4 KiB small and 64 KiB large pages in 1 KiB level-2 tables. No MediaTek extensions.
#include <fmt/format.h>

#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

constexpr unsigned kContEntries = 16;
constexpr uint64_t kTypeMask = 3;
constexpr uint64_t kTypeTable = 1;       // level 1
constexpr uint64_t kTypePage = 2;        // level-1 section, level-2 small page
constexpr uint64_t kTypeContPage = 1;    // level-2 large page
constexpr uint64_t kAttrB = bit(2);
constexpr uint64_t kAttrC = bit(3);
constexpr uint64_t kContSection = bit(18);
constexpr unsigned kContPageXnShift = 15;
constexpr unsigned kContPageTexShift = 6;  // how far a large page moves TEX up
constexpr uint64_t kTableAddrMask = genmask(31, 10);

// The 8-bit attribute field, placed at attr_shift(level).
constexpr uint64_t kAttrAf = bit(0);  // AP0
constexpr uint64_t kAttrUnpriv = bit(1);  // AP1
constexpr unsigned kTexShift = 2;
constexpr uint64_t kTexMask = 7;
constexpr uint64_t kAttrRdonly = bit(5);  // AP2
constexpr uint64_t kAttrS = bit(6);
constexpr uint64_t kAttrNg = bit(7);

constexpr unsigned attr_shift(unsigned level) { return 16 - level * 6; }
constexpr uint64_t xn_bit(unsigned level) { return bit(4 * (2 - level)); }
constexpr unsigned lvl_shift(unsigned level) { return level == 1 ? 20 : 12; }

}  // namespace

Geometry v7s_geometry(unsigned ias, unsigned oas) {
  if (ias < 21 || ias > 32)
    throw std::invalid_argument(fmt::format("ias {} out of range: arm-v7s takes 21..32", ias));
  if (oas < 21 || oas > 32)
    throw std::invalid_argument(fmt::format("oas {} out of range: arm-v7s takes 21..32", oas));
  Geometry g;
  g.desc_bytes = 4;
  g.granule = 1 << 12;
  g.ias = ias;
  g.oas = oas;
  g.start_level = 1;
  g.last_level = 2;
  g.pgsize_bitmap = bit(12) | bit(16) | bit(20) | bit(24);
  g.levels[1] = {lvl_shift(1), ias - 20, uint64_t{4} << (ias - 20), bit(20), true};
  g.levels[2] = {lvl_shift(2), 8, uint64_t{4} << 8, bit(12), false};
  g.pgd_bytes = g.levels[1].table_bytes;
  return g;
}

namespace {

uint64_t v7s_make_table(const Format&, uint64_t paddr, unsigned) { return paddr | kTypeTable; }

uint64_t prot_to_pte(int prot, unsigned level) {
  uint64_t attr = kAttrNg | kAttrS | kAttrAf;
  if (!(prot & IOMMU_MMIO)) attr |= uint64_t{1} << kTexShift;
  if (!(prot & IOMMU_PRIV)) attr |= kAttrUnpriv;
  if (!(prot & IOMMU_WRITE)) attr |= kAttrRdonly;
  uint64_t pte = attr << attr_shift(level);
  if (prot & IOMMU_NOEXEC) pte |= xn_bit(level);
  if (prot & IOMMU_MMIO)
    pte |= kAttrB;
  else if (prot & IOMMU_CACHE)
    pte |= kAttrB | kAttrC;
  return pte | kTypePage;
}

// Large pages keep XN and TEX elsewhere than small pages do.
uint64_t to_cont(uint64_t pte, unsigned level) {
  if (level == 1) return pte | kContSection;
  uint64_t xn = pte & xn_bit(2);
  uint64_t tex = pte & (kTexMask << kContPageTexShift);
  pte ^= xn | tex | kTypePage;
  return pte | (xn << kContPageXnShift) | (tex << kContPageTexShift) | kTypeContPage;
}

uint64_t v7s_make_leaf(const Format&, uint64_t paddr, unsigned level, uint64_t pgsize,
                       int prot) {
  uint64_t pte = prot_to_pte(prot, level);
  if (pgsize > bit(lvl_shift(level))) pte = to_cont(pte, level);
  return pte | paddr;
}

// Where the leaf keeps its TEX and XN bits: large pages move them.
struct LeafLayout {
  uint64_t size;
  uint64_t addr_mask;
  unsigned replicas;
  uint64_t xn;
  uint64_t tex;
};

LeafLayout layout(uint64_t desc, unsigned level) {
  uint64_t tex_in_place = ((desc >> attr_shift(level)) >> kTexShift) & kTexMask;
  if (level == 1 && (desc & kContSection))
    return {bit(24), genmask(31, 24), kContEntries, desc & xn_bit(1), tex_in_place};
  if (level == 1) return {bit(20), genmask(31, 20), 1, desc & xn_bit(1), tex_in_place};
  if (desc & kTypePage) return {bit(12), genmask(31, 12), 1, desc & xn_bit(2), tex_in_place};
  uint64_t tex_moved = (desc >> (attr_shift(2) + kTexShift + kContPageTexShift)) & kTexMask;
  return {bit(16), genmask(31, 16), kContEntries, desc & bit(kContPageXnShift), tex_moved};
}

Decoded decode_leaf(uint64_t desc, unsigned level) {
  LeafLayout lay = layout(desc, level);
  uint64_t attr = desc >> attr_shift(level);
  Decoded d;
  d.kind = DescKind::kLeaf;
  d.paddr = desc & lay.addr_mask;
  d.size = lay.size;
  d.replicas = lay.replicas;
  d.af = attr & kAttrAf;
  d.perms = {.read = true,
             .write = !(attr & kAttrRdonly),
             .exec = lay.xn == 0,
             .priv_only = !(attr & kAttrUnpriv)};
  int memtype = lay.tex == 0 ? IOMMU_MMIO : (desc & kAttrC) ? IOMMU_CACHE : 0;
  d.prot = IOMMU_READ | (d.perms.write ? IOMMU_WRITE : 0) | (lay.xn ? IOMMU_NOEXEC : 0) |
           (d.perms.priv_only ? IOMMU_PRIV : 0) | memtype;
  return d;
}

Decoded v7s_decode(const Format&, uint64_t desc, unsigned level) {
  uint64_t type = desc & kTypeMask;
  if (type == 0) return {};
  if (level == 1 && type == kTypeTable) {
    Decoded d;
    d.kind = DescKind::kTable;
    d.paddr = desc & kTableAddrMask;
    return d;
  }
  if (level == 1 && type != kTypePage)
    return reserved("level-1 type 0b11 (PXN section; Linux never writes it)");
  return decode_leaf(desc, level);
}

}  // namespace

const Codec kV7sCodec{v7s_decode, v7s_make_table, v7s_make_leaf};

}  // namespace iommu::hw
