// Arm SMMUv3 command-queue TLB maintenance: the fields, their 128-bit wire form (bit positions
// as in the kernel's arm-smmu-v3.h) and what each command invalidates.
#pragma once

#include <array>
#include <cstdint>

#include "hw/invalidation.h"

namespace iommu::hw {

enum class SmmuOp : uint8_t {
  kTlbiNhAsid = 0x11,
  kTlbiNhVa = 0x12,
  kTlbiS12Vmall = 0x28,
  kTlbiS2Ipa = 0x2a,
  kTlbiNsnhAll = 0x30,
  kCmdSync = 0x46,
};

struct SmmuCmd {
  SmmuOp op = SmmuOp::kCmdSync;
  uint16_t asid = 0;
  uint16_t vmid = 0;
  uint8_t num = 0;  // range form: (num + 1) * 2^scale pages
  uint8_t scale = 0;
  uint8_t ttl = 0;    // level of the leaves to hit (1..3); 0 = no hint
  uint8_t tg = 0;     // 0 = single address, 1 = 4K, 2 = 16K, 3 = 64K pages
  bool leaf = false;  // 1 = leaf entries only, walk caches kept
  uint64_t addr = 0;
  bool operator==(const SmmuCmd&) const = default;
};

using SmmuWords = std::array<uint64_t, 2>;

SmmuWords smmu_pack(const SmmuCmd& cmd);
// Throws on an opcode outside SmmuOp.
SmmuCmd smmu_unpack(const SmmuWords& words);

// log2 of the page size the TG field selects; tg must be 1..3.
unsigned smmu_tg_shift(unsigned tg);

// What the command invalidates: NH_VA in the ASID's context, S2_IPA in the VMID's. Throws on
// reserved forms (range TLBI with NUM = SCALE = TTL = 0, NUM/SCALE/TTL with TG = 0).
Command smmu_decode(const SmmuCmd& cmd);

}  // namespace iommu::hw
