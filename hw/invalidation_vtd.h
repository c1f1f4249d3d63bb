// Intel VT-d queued-invalidation IOTLB descriptor (type 2): fields, the 128 bits the driver
// writes (qi_desc_iotlb in intel/iommu.h) and what the descriptor invalidates.
#pragma once

#include <array>
#include <cstdint>

#include "hw/invalidation.h"

namespace iommu::hw {

enum class VtdGran : uint8_t { kGlobal = 1, kDomain = 2, kPage = 3 };

struct VtdIotlbDesc {
  VtdGran gran = VtdGran::kGlobal;
  uint16_t did = 0;
  bool drain_reads = false;
  bool drain_writes = false;
  uint64_t addr = 0;  // page-selective only: bits 63:12
  bool ih = false;    // invalidation hint: non-leaf (paging-structure) entries may stay
  uint8_t am = 0;     // address mask: 2^am 4K pages, aligned to their size
  bool operator==(const VtdIotlbDesc&) const = default;
};

using VtdWords = std::array<uint64_t, 2>;

VtdWords vtd_pack(const VtdIotlbDesc& desc);
// Throws when the descriptor type is not IOTLB invalidation or the granularity is reserved.
VtdIotlbDesc vtd_unpack(const VtdWords& words);

// PSI hits leaves overlapping 2^am pages at addr, a superpage only when the mask covers it.
Command vtd_decode(const VtdIotlbDesc& desc);

}  // namespace iommu::hw
