#include "hw/invalidation_vtd.h"

#include <fmt/core.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

constexpr uint64_t kIotlbType = 0x2;
constexpr uint64_t kTypeMask = genmask(3, 0);
constexpr unsigned kGranShift = 4;
constexpr unsigned kDidShift = 16;
constexpr unsigned kDrShift = 7;
constexpr unsigned kDwShift = 6;
constexpr unsigned kIhShift = 6;
constexpr uint64_t kAmMask = genmask(5, 0);
constexpr uint64_t kAddrMask = genmask(63, 12);

IovaRange psi_range(const VtdIotlbDesc& desc) {
  unsigned shift = 12u + desc.am;
  if (shift >= 64) return IovaRange::everything();
  uint64_t base = desc.addr & ~low_mask(shift);
  return {base, base | low_mask(shift)};
}

}  // namespace

VtdWords vtd_pack(const VtdIotlbDesc& d) {
  uint64_t qw0 = uint64_t{d.did} << kDidShift | uint64_t{d.drain_reads} << kDrShift |
                 uint64_t{d.drain_writes} << kDwShift |
                 uint64_t{static_cast<uint8_t>(d.gran)} << kGranShift | kIotlbType;
  uint64_t qw1 = (d.addr & kAddrMask) | uint64_t{d.ih} << kIhShift | (d.am & kAmMask);
  return {qw0, qw1};
}

VtdIotlbDesc vtd_unpack(const VtdWords& w) {
  if ((w[0] & kTypeMask) != kIotlbType) {
    throw std::invalid_argument(
        fmt::format("VT-d descriptor type {} is not IOTLB invalidation (2)", w[0] & kTypeMask));
  }
  uint64_t gran = (w[0] >> kGranShift) & 3;
  if (gran == 0) throw std::invalid_argument("VT-d IOTLB descriptor granularity 0 is reserved");
  return {.gran = static_cast<VtdGran>(gran),
          .did = static_cast<uint16_t>(w[0] >> kDidShift),
          .drain_reads = ((w[0] >> kDrShift) & 1) != 0,
          .drain_writes = ((w[0] >> kDwShift) & 1) != 0,
          .addr = w[1] & kAddrMask,
          .ih = ((w[1] >> kIhShift) & 1) != 0,
          .am = static_cast<uint8_t>(w[1] & kAmMask)};
}

Command vtd_decode(const VtdIotlbDesc& d) {
  switch (d.gran) {
    case VtdGran::kGlobal: return Command::all();
    case VtdGran::kDomain: return Command::context(d.did);
    case VtdGran::kPage: break;
  }
  Command out = Command::by_range(d.did, psi_range(d), d.ih);
  out.whole_leaf = true;
  return out;
}

}  // namespace iommu::hw
