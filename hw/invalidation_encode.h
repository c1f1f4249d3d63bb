// The arithmetic that turns a range to invalidate into vendor commands, kept in one place so
// the proofs module can prove it covers every range. Each function mirrors what the Linux
// driver computes (named below); where the driver would emit an under-covering or unencodable
// command, the deviation is documented on the function.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/invalidation_amd.h"
#include "hw/invalidation_riscv.h"
#include "hw/invalidation_smmu.h"
#include "hw/invalidation_vtd.h"

namespace iommu::hw {

struct SmmuRangeCaps {
  bool range_inv = true;     // ARM_SMMU_FEAT_RANGE_INV (SMMU_IDR3.RIL)
  unsigned page_shift = 12;  // __ffs(pgsize_bitmap): 12, 14 or 16
};

// __arm_smmu_tlb_inv_range: proto supplies op, asid, vmid and leaf; granule is the leaf size
// (leaf) or the nominal page (walk). With range_inv, the page count is consumed five bits at a
// time from its lowest set bit; without, one single-address command per granule. Deviations:
// an unaligned range is widened to whole pages, and a SCALE above the 5-bit field (the kernel's
// FIELD_PREP would truncate it) is emitted as repeated NUM=31, SCALE=31 chunks.
std::vector<SmmuCmd> smmu_encode_range(const SmmuCmd& proto, uint64_t iova, uint64_t size,
                                       uint64_t granule, const SmmuRangeCaps& caps);

// calculate_psi_aligned_address + cache_tag_flush_iotlb (intel/cache.c): AM is log2 of the
// page count rounded up to a power of two, widened until one aligned block holds [start, last];
// domain-selective when AM exceeds mamv (cap_max_amask_val).
VtdIotlbDesc vtd_encode_range(uint16_t did, uint64_t start, uint64_t last, bool ih, unsigned mamv);

// build_inv_address (amd/iommu.c): the address word with the S bit in bit 0.
uint64_t amd_inv_address(uint64_t start, uint64_t last);

// build_inv_iommu_pages for [start, last] in domid; pde = also flush page-directory entries.
AmdCmd amd_encode_range(uint16_t domid, uint64_t start, uint64_t last, bool pde);

// riscv_iommu_tlbi_calc + riscv_iommu_iotlb_inval_iommu (riscv/iommu.c, Linux 7.2). Without
// NL and S: one IOTINVAL.VMA (AV=1) per stride over [start, last], where the stride is the size
// of a leaf-table entry at the level of granule (4K for 4K and 64K leaves, 2M, 1G, ...); the
// whole PSCID (AV=0) when non-leaf entries changed, the granule is 0 (no level information), or
// the range needs no or more than 512 commands. With NL, non-leaf changes take the same
// commands with NL=1; with S, a range of 8K or more is one command for the smallest NAPOT block
// holding it.
std::vector<RiscvCmd> riscv_encode_range(uint32_t pscid, uint64_t start, uint64_t last,
                                         uint64_t granule, bool non_leaf,
                                         const RiscvCaps& caps = {});

}  // namespace iommu::hw
