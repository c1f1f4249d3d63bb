#include "hw/invalidation_encode.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

constexpr unsigned kSmmuMaxScale = 31;  // CMDQ_TLBI_0_SCALE is five bits
constexpr uint64_t kSmmuNumMax = 31;    // CMDQ_TLBI_RANGE_NUM_MAX
// Bounds memory only; the driver would queue them all, taking seconds.
constexpr uint64_t kMaxSingleAddressCommands = uint64_t{1} << 22;
constexpr unsigned kVtdMaxAgawPfnWidth = 52;
constexpr uint64_t kRiscvMaxSingleCommands = 512;
constexpr uint64_t kPageMask = ~low_mask(12);

void check_range(uint64_t start, uint64_t last) {
  if (last < start) {
    throw std::invalid_argument(
        fmt::format("invalidation range [{:#x}, {:#x}] ends before it starts", start, last));
  }
}

// Inclusive last byte of [iova, iova + size); size must be non-zero.
uint64_t last_byte(uint64_t iova, uint64_t size) {
  if (size - 1 > ~uint64_t{0} - iova) {
    throw std::invalid_argument(
        fmt::format("invalidation of {:#x} bytes at {:#x} wraps past 2^64", size, iova));
  }
  return iova + (size - 1);
}

// The driver's 4 - ((ilog2(granule) - 3) / (tg - 3)): the level holding leaves of this size.
uint8_t smmu_leaf_ttl(uint64_t granule, unsigned tg) {
  int ttl = is_pow2(granule) && granule >= bit(tg)
                ? 4 - (static_cast<int>(fls64_idx(granule)) - 3) / (static_cast<int>(tg) - 3)
                : 0;
  if (ttl < 1 || ttl > 3) {
    throw std::invalid_argument(fmt::format(
        "SMMUv3 leaf invalidation granule {:#x} is not a page or block size of the {:#x} "
        "translation granule",
        granule, bit(tg)));
  }
  return static_cast<uint8_t>(ttl);
}

std::vector<SmmuCmd> smmu_single_address(SmmuCmd cmd, uint64_t iova, uint64_t last,
                                         uint64_t granule) {
  if (!is_pow2(granule)) {
    throw std::invalid_argument(
        fmt::format("SMMUv3 invalidation granule {:#x} is not a power of two", granule));
  }
  unsigned shift = fls64_idx(granule);
  uint64_t first = iova >> shift;
  uint64_t count = (last >> shift) - first + 1;
  if (count > kMaxSingleAddressCommands) {
    throw std::invalid_argument(fmt::format(
        "SMMUv3 without range invalidation needs {} commands for this range: invalidate the "
        "ASID/VMID instead",
        count));
  }
  std::vector<SmmuCmd> out;
  for (uint64_t i = 0; i < count; ++i) {
    cmd.addr = (first + i) << shift;
    out.push_back(cmd);
  }
  return out;
}

std::vector<SmmuCmd> smmu_ranges(SmmuCmd cmd, uint64_t iova, uint64_t last, uint64_t granule,
                                 unsigned tg) {
  uint64_t first = iova >> tg;
  uint64_t num_pages = (last >> tg) - first + 1;
  cmd.tg = static_cast<uint8_t>((tg - 10) / 2);
  // Non-leaf commands carry TTL=0, so one page would be the reserved NUM=SCALE=TTL=0 form.
  if (cmd.leaf) {
    cmd.ttl = smmu_leaf_ttl(granule, tg);
  } else if ((num_pages & kSmmuNumMax) == 1) {
    ++num_pages;
  }
  std::vector<SmmuCmd> out;
  uint64_t addr = first << tg;
  while (num_pages != 0) {
    unsigned scale = std::min(ffs64_idx(num_pages), kSmmuMaxScale);
    uint64_t num = scale < kSmmuMaxScale ? (num_pages >> scale) & kSmmuNumMax
                                         : std::min(num_pages >> scale, kSmmuNumMax + 1);
    cmd.scale = static_cast<uint8_t>(scale);
    cmd.num = static_cast<uint8_t>(num - 1);
    cmd.addr = addr;
    out.push_back(cmd);
    addr += num << (scale + tg);
    num_pages -= num << scale;
  }
  return out;
}

}  // namespace

std::vector<SmmuCmd> smmu_encode_range(const SmmuCmd& proto, uint64_t iova, uint64_t size,
                                       uint64_t granule, const SmmuRangeCaps& caps) {
  if (size == 0) return {};
  uint64_t last = last_byte(iova, size);
  SmmuCmd cmd = proto;
  cmd.num = cmd.scale = cmd.ttl = cmd.tg = 0;
  if (!caps.range_inv) return smmu_single_address(cmd, iova, last, granule);
  if (caps.page_shift != 12 && caps.page_shift != 14 && caps.page_shift != 16) {
    throw std::invalid_argument(
        fmt::format("SMMUv3 page_shift {} is not 12, 14 or 16 (4K, 16K, 64K)", caps.page_shift));
  }
  return smmu_ranges(cmd, iova, last, granule, caps.page_shift);
}

VtdIotlbDesc vtd_encode_range(uint16_t did, uint64_t start, uint64_t last, bool ih, unsigned mamv) {
  check_range(start, last);
  uint64_t pfn = start >> 12;
  uint64_t end_pfn = last >> 12;
  uint64_t aligned_pages = std::bit_ceil(end_pfn - pfn + 1);
  uint64_t bitmask = aligned_pages - 1;
  unsigned mask = fls64_idx(aligned_pages);
  // The mask drops the low address bits, so an unaligned start needs the first power-of-two
  // block that holds both ends: the lowest bit above bitmask where pfn and end_pfn agree.
  if ((bitmask & pfn) != 0) {
    uint64_t shared_bits = ~(pfn ^ end_pfn) & ~bitmask;
    mask = shared_bits != 0 ? ffs64_idx(shared_bits) : kVtdMaxAgawPfnWidth;
  }
  if (mask > mamv) return {.gran = VtdGran::kDomain, .did = did};
  uint64_t addr = 12 + mask >= 64 ? 0 : start & ~low_mask(12 + mask);
  return {
      .gran = VtdGran::kPage, .did = did, .addr = addr, .ih = ih, .am = static_cast<uint8_t>(mask)};
}

uint64_t amd_inv_address(uint64_t start, uint64_t last) {
  check_range(start, last);
  if ((start >> 12) == (last >> 12)) return start & kPageMask;
  unsigned msb_diff = fls64_idx(last ^ start);
  // Bits 63:52 are a sign extension: a range differing at bit 51 or above means everything.
  uint64_t address = msb_diff > 51 ? kAmdAllPagesAddress : start | low_mask(msb_diff);
  return (address & kPageMask) | 1;
}

AmdCmd amd_encode_range(uint16_t domid, uint64_t start, uint64_t last, bool pde) {
  uint64_t address = amd_inv_address(start, last);
  return {.op = AmdOp::kInvIommuPages,
          .domid = domid,
          .address = address & kPageMask,
          .size = (address & 1) != 0,
          .pde = pde};
}

std::vector<RiscvCmd> riscv_encode_range(uint32_t pscid, uint64_t start, uint64_t last,
                                         uint64_t granule, bool non_leaf, const RiscvCaps& caps) {
  check_range(start, last);
  const RiscvCmd whole{.op = RiscvOp::kIotinvalVma, .pscv = true, .pscid = pscid};
  if ((non_leaf && !caps.nl) || granule < bit(12)) return {whole};
  RiscvCmd one = whole;
  one.av = true;
  one.nl = non_leaf;
  // The smallest NAPOT block holding the range, as log2 of its size (fls64(start ^ last)).
  const unsigned napot_shift = start == last ? 0 : fls64_idx(start ^ last) + 1;
  if (caps.s && napot_shift >= 13 && napot_shift < 64) {
    one.s = true;
    one.addr = (start & ~low_mask(napot_shift)) | (low_mask(napot_shift - 1) & ~low_mask(12));
    return {one};
  }
  // 9 bits per level over the 4K page: the stride is the entry size of the level of granule.
  const unsigned stride_shift = 12 + (fls64_idx(granule) - 12) / 9 * 9;
  const uint64_t num = stride_shift >= 64 ? 0 : (last - start + 1) >> stride_shift;
  if (num == 0 || num > kRiscvMaxSingleCommands) return {whole};
  std::vector<RiscvCmd> out;
  for (uint64_t i = 0; i < num; i++) {
    one.addr = (start + (i << stride_shift)) & kPageMask;
    out.push_back(one);
  }
  return out;
}

}  // namespace iommu::hw
