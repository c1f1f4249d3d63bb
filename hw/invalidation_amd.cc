#include "hw/invalidation_amd.h"

#include <fmt/core.h>

#include <bit>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

constexpr unsigned kTypeShift = 28;  // CMD_SET_TYPE: word 1, bits 31:28
constexpr uint32_t kDomidMask = 0xffff;
constexpr uint32_t kPasidMask = 0xfffff;
constexpr uint32_t kSizeBit = 0x1;
constexpr uint32_t kPdeBit = 0x2;
constexpr uint32_t kGnBit = 0x4;
constexpr uint64_t kAddrMask = genmask(63, 12);

// S=1: the run of ones from bit 12 up, plus one, is log2 of the page count (AMD IOMMU spec
// "INVALIDATE_IOMMU_PAGES"); the region is aligned to its size.
IovaRange pages_range(const AmdCmd& cmd) {
  uint64_t addr = cmd.address & kAddrMask;
  unsigned shift = cmd.size ? 12u + static_cast<unsigned>(std::countr_one(addr >> 12)) + 1u : 12u;
  if (shift >= 64) return IovaRange::everything();
  uint64_t base = addr & ~low_mask(shift);
  return {base, base | low_mask(shift)};
}

}  // namespace

AmdWords amd_pack(const AmdCmd& c) {
  AmdWords w{0, static_cast<uint32_t>(static_cast<uint32_t>(c.op) << kTypeShift), 0, 0};
  if (c.op != AmdOp::kInvIommuPages) return w;
  w[0] = c.pasid & kPasidMask;
  w[1] |= c.domid;
  uint64_t addr = c.address & kAddrMask;
  w[2] = static_cast<uint32_t>(addr) | (c.size ? kSizeBit : 0) | (c.pde ? kPdeBit : 0) |
         (c.gn ? kGnBit : 0);
  w[3] = static_cast<uint32_t>(addr >> 32);
  return w;
}

AmdCmd amd_unpack(const AmdWords& w) {
  uint32_t op = w[1] >> kTypeShift;
  auto is = [op](AmdOp known) { return op == static_cast<uint32_t>(known); };
  if (!is(AmdOp::kCompletionWait) && !is(AmdOp::kInvIommuPages) && !is(AmdOp::kInvIommuAll)) {
    throw std::invalid_argument(fmt::format("AMD-Vi command type {:#x} is not modelled", op));
  }
  AmdCmd cmd{.op = static_cast<AmdOp>(op)};
  if (cmd.op != AmdOp::kInvIommuPages) return cmd;
  cmd.domid = static_cast<uint16_t>(w[1] & kDomidMask);
  cmd.pasid = w[0] & kPasidMask;
  cmd.address = (uint64_t{w[3]} << 32 | w[2]) & kAddrMask;
  cmd.size = (w[2] & kSizeBit) != 0;
  cmd.pde = (w[2] & kPdeBit) != 0;
  cmd.gn = (w[2] & kGnBit) != 0;
  return cmd;
}

Command amd_decode(const AmdCmd& cmd) {
  switch (cmd.op) {
    case AmdOp::kCompletionWait: return Command::sync();
    case AmdOp::kInvIommuAll: return Command::all();
    case AmdOp::kInvIommuPages: break;
  }
  if (cmd.gn) {
    throw std::invalid_argument(
        "AMD-Vi INVALIDATE_IOMMU_PAGES with GN=1 (guest PASID space) is not modelled");
  }
  return Command::by_range(cmd.domid, pages_range(cmd), !cmd.pde);
}

}  // namespace iommu::hw
