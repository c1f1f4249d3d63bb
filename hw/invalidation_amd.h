// AMD-Vi command buffer: INVALIDATE_IOMMU_PAGES, INVALIDATE_IOMMU_ALL and COMPLETION_WAIT as
// four 32-bit words (build_inv_iommu_pages in amd/iommu.c), and what each invalidates.
#pragma once

#include <array>
#include <cstdint>

#include "hw/invalidation.h"

namespace iommu::hw {

enum class AmdOp : uint8_t { kCompletionWait = 0x01, kInvIommuPages = 0x03, kInvIommuAll = 0x08 };

// The address with S=1 and bits 62:12 set invalidates every page of the domain.
inline constexpr uint64_t kAmdAllPagesAddress = 0x7fffffffffffffffULL;

struct AmdCmd {
  AmdOp op = AmdOp::kCompletionWait;
  uint16_t domid = 0;
  uint32_t pasid = 0;
  uint64_t address = 0;  // bits 63:12; with S=1 the lowest clear bit from 12 up sets the size
  bool size = false;     // S: more than one 4K page
  bool pde = false;      // also flush cached page-directory entries
  bool gn = false;       // guest (PASID) address space
  bool operator==(const AmdCmd&) const = default;
};

using AmdWords = std::array<uint32_t, 4>;

AmdWords amd_pack(const AmdCmd& cmd);
// Throws on an opcode outside AmdOp.
AmdCmd amd_unpack(const AmdWords& words);

// Throws for GN=1: guest-address-space invalidation is not modelled.
Command amd_decode(const AmdCmd& cmd);

}  // namespace iommu::hw
