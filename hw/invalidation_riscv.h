// RISC-V IOMMU command queue: IOTINVAL.VMA and IOFENCE.C as the two 64-bit doublewords of a
// 16-byte command (RISC-V IOMMU spec v1.0, "Command-Queue (CQ)"; riscv_iommu_cmd_* in
// riscv/iommu-bits.h), and what each invalidates for a first-stage context with a Bare second
// stage (GV=0).
#pragma once

#include <array>
#include <cstdint>

#include "hw/invalidation.h"

namespace iommu::hw {

enum class RiscvOp : uint8_t { kIotinvalVma, kIofenceC };

// The IOMMU's optional command extensions (capabilities register): without them their bits are
// reserved and a command setting them is illegal.
struct RiscvCaps {
  bool nl = false;  // capabilities.NL (bit 42): Non-leaf PTE Invalidation Extension
  bool s = false;   // capabilities.S (bit 43): Address Range Invalidation Extension
};

struct RiscvCmd {
  RiscvOp op = RiscvOp::kIofenceC;
  // IOTINVAL.VMA
  bool av = false;     // ADDR valid: only leaf entries for that page's IOVA
  bool pscv = false;   // PSCID valid: one process soft-context, else every host address space
  bool gv = false;     // GSCID valid: a VM's address spaces (not modelled)
  uint32_t pscid = 0;  // 20 bits
  uint16_t gscid = 0;
  uint64_t addr = 0;  // IOTINVAL: the IOVA, bits 63:12; IOFENCE.C with AV=1: bits 63:2
  bool nl = false;    // NL (dword0 bit 34): with AV=1, non-leaf entries for ADDR go too
  bool s = false;     // S (dword1 bit 9): with AV=1, ADDR is a NAPOT range
  // IOFENCE.C
  bool fence_av = false;  // write DATA to ADDR on completion
  bool wsi = false;
  bool pr = false;  // order previous device reads
  bool pw = false;  // and writes
  uint32_t data = 0;
  bool operator==(const RiscvCmd&) const = default;
};

using RiscvWords = std::array<uint64_t, 2>;

RiscvWords riscv_pack(const RiscvCmd& cmd);
// Throws, as the command queue sets cqcsr.cmd_ill, on an opcode/func3 other than IOTINVAL.VMA
// and IOFENCE.C or a reserved bit set (NL and S are reserved unless caps has them).
RiscvCmd riscv_unpack(const RiscvWords& words, const RiscvCaps& caps = {});

// Throws for the forms a single first-stage context cannot express: GV=1, and AV=1 with PSCV=0
// (one address in every address space); and for S=1 with ADDR all ones (UNSPECIFIED).
Command riscv_decode(const RiscvCmd& cmd);

}  // namespace iommu::hw
