#include "hw/invalidation_riscv.h"

#include <fmt/core.h>

#include <bit>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

constexpr uint64_t kOpcodeMask = genmask(6, 0);
constexpr unsigned kFunc3Shift = 7;
constexpr uint64_t kFunc3Mask = 7;
constexpr uint64_t kOpIotinval = 1;
constexpr uint64_t kOpIofence = 2;
constexpr uint64_t kFuncVma = 0;
constexpr uint64_t kFuncC = 0;

// IOTINVAL: dword0 AV 10, PSCID 31:12, PSCV 32, GV 33, GSCID 59:44; dword1 ADDR[63:12] at 61:10.
constexpr unsigned kAvShift = 10;
constexpr unsigned kPscidShift = 12;
constexpr uint64_t kPscidMask = genmask(19, 0);
constexpr unsigned kPscvShift = 32;
constexpr unsigned kGvShift = 33;
constexpr unsigned kGscidShift = 44;
constexpr unsigned kNlShift = 34;
constexpr uint64_t kInvalReserved0 = bit(11) | genmask(43, 34) | genmask(63, 60);
constexpr unsigned kInvalAddrShift = 10;
constexpr unsigned kSShift = 9;  // bit 73 of the command
constexpr uint64_t kInvalReserved1 = genmask(9, 0) | genmask(63, 62);
constexpr uint64_t kAddrPfnBits = 52;

// IOFENCE: dword0 AV 10, WSI 11, PR 12, PW 13, DATA 63:32; dword1 ADDR[63:2] at 61:0.
constexpr unsigned kWsiShift = 11;
constexpr unsigned kPrShift = 12;
constexpr unsigned kPwShift = 13;
constexpr unsigned kDataShift = 32;
constexpr uint64_t kFenceReserved0 = genmask(31, 14);
constexpr uint64_t kFenceReserved1 = genmask(63, 62);

uint64_t flag(bool b, unsigned shift) { return uint64_t{b} << shift; }
bool has(uint64_t word, unsigned shift) { return ((word >> shift) & 1) != 0; }

uint64_t header(uint64_t opcode, uint64_t func3) { return opcode | func3 << kFunc3Shift; }

void check_reserved(const RiscvWords& w, uint64_t rsvd0, uint64_t rsvd1, const char* what) {
  if ((w[0] & rsvd0) == 0 && (w[1] & rsvd1) == 0) return;
  throw std::invalid_argument(fmt::format(
      "RISC-V IOMMU {} with reserved bits set (dword0 {:#x}, dword1 {:#x}): illegal command", what,
      w[0] & rsvd0, w[1] & rsvd1));
}

}  // namespace

RiscvWords riscv_pack(const RiscvCmd& c) {
  if (c.op == RiscvOp::kIofenceC) {
    return {header(kOpIofence, kFuncC) | flag(c.fence_av, kAvShift) | flag(c.wsi, kWsiShift) |
                flag(c.pr, kPrShift) | flag(c.pw, kPwShift) | uint64_t{c.data} << kDataShift,
            (c.addr >> 2) & ~kFenceReserved1};
  }
  return {header(kOpIotinval, kFuncVma) | flag(c.av, kAvShift) |
              (c.pscid & kPscidMask) << kPscidShift | flag(c.pscv, kPscvShift) |
              flag(c.gv, kGvShift) | flag(c.nl, kNlShift) | uint64_t{c.gscid} << kGscidShift,
          (((c.addr >> 12) << kInvalAddrShift) & ~kInvalReserved1) | flag(c.s, kSShift)};
}

RiscvCmd riscv_unpack(const RiscvWords& w, const RiscvCaps& caps) {
  const uint64_t opcode = w[0] & kOpcodeMask;
  const uint64_t func3 = (w[0] >> kFunc3Shift) & kFunc3Mask;
  if (opcode == kOpIofence && func3 == kFuncC) {
    check_reserved(w, kFenceReserved0, kFenceReserved1, "IOFENCE.C");
    return {.op = RiscvOp::kIofenceC,
            .addr = w[1] << 2,
            .fence_av = has(w[0], kAvShift),
            .wsi = has(w[0], kWsiShift),
            .pr = has(w[0], kPrShift),
            .pw = has(w[0], kPwShift),
            .data = static_cast<uint32_t>(w[0] >> kDataShift)};
  }
  if (opcode != kOpIotinval || func3 != kFuncVma) {
    throw std::invalid_argument(
        fmt::format("RISC-V IOMMU command opcode {} func3 {} is not modelled (IOTINVAL.VMA is 1/0, "
                    "IOFENCE.C 2/0)",
                    opcode, func3));
  }
  check_reserved(w, kInvalReserved0 & ~(caps.nl ? bit(kNlShift) : 0),
                 kInvalReserved1 & ~(caps.s ? bit(kSShift) : 0), "IOTINVAL.VMA");
  return {.op = RiscvOp::kIotinvalVma,
          .av = has(w[0], kAvShift),
          .pscv = has(w[0], kPscvShift),
          .gv = has(w[0], kGvShift),
          .pscid = static_cast<uint32_t>((w[0] >> kPscidShift) & kPscidMask),
          .gscid = static_cast<uint16_t>(w[0] >> kGscidShift),
          .addr = (w[1] >> kInvalAddrShift) << 12,
          .nl = has(w[0], kNlShift),
          .s = has(w[1], kSShift)};
}

namespace {

// Address Range Invalidation Extension: the first 0 bit of ADDR[63:12], at position X, makes
// ADDR a 2^(X+1) * 4 KiB range; a 0 only at the top bit is the whole address space.
IovaRange napot_range(uint64_t addr) {
  const uint64_t pfn = addr >> 12;
  if (pfn == low_mask(kAddrPfnBits))
    throw std::invalid_argument(
        "RISC-V IOTINVAL.VMA with S=1 and ADDR all ones: the range is UNSPECIFIED");
  const unsigned shift = 12u + static_cast<unsigned>(std::countr_one(pfn)) + 1u;
  if (shift >= 64) return IovaRange::everything();
  const uint64_t base = addr & ~low_mask(shift);
  return {base, base | low_mask(shift)};
}

}  // namespace

// RISC-V IOMMU spec v1.0, "IOTINVAL.VMA operands and operations": with AV=1 only entries that
// hold first-stage leaf PTEs for the IOVA go; non-leaf entries (our walk cache) may stay, as
// after an SFENCE.VMA with rs1 != x0. A leaf of any size holding the IOVA is hit. NL=1 (9.2.1)
// takes "all levels" for the IOVA; S=1 (9.3) widens the IOVA to its NAPOT range. With AV=0 both
// are ignored.
Command riscv_decode(const RiscvCmd& c) {
  if (c.op == RiscvOp::kIofenceC) return Command::sync();
  if (c.gv)
    throw std::invalid_argument(
        "RISC-V IOTINVAL.VMA with GV=1 (a VM's address spaces) is not modelled");
  if (!c.av) return c.pscv ? Command::context(c.pscid) : Command::all();
  if (!c.pscv)
    throw std::invalid_argument(
        "RISC-V IOTINVAL.VMA with AV=1 and PSCV=0 (one address in every address space) is not "
        "modelled");
  const uint64_t page = c.addr & ~low_mask(12);
  const IovaRange range = c.s ? napot_range(c.addr) : IovaRange{page, page | low_mask(12)};
  return Command::by_range(c.pscid, range, /*leaf_only=*/!c.nl);
}

}  // namespace iommu::hw
