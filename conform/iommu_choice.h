// Which IOMMU driver model sends the invalidations of a checked domain: its command encoding
// (SMMUv3 with or without range invalidation, SMMUv2 by address, VT-d, AMD-Vi, RISC-V) and whether it
// caches non-present entries. The choice belongs to the domain, not to the page table, so
// `check --iommu` and a trace's `iommu` directive make it; without one the checker picks the
// model that fits the driver's format (default_iommu).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "conform/driver.h"
#include "hw/invalidation.h"
#include "impl/iommu_driver.h"
#include "ref/config.h"

namespace iommu::conform {

enum class IommuKind { kSmmuV3, kSmmuV3NoRange, kSmmuV2, kVtd, kAmd, kRiscv };

// Every kind, in the order the CLI lists them.
std::span<const IommuKind> iommu_kinds();
// "smmuv3", "smmuv3-norange", "smmuv2", "vtd", "amd", "riscv".
std::string_view iommu_name(IommuKind kind);
std::optional<IommuKind> parse_iommu(std::string_view name);
// "smmuv3, smmuv3-norange, smmuv2, vtd, amd or riscv", for messages.
std::string iommu_name_list();

// The model the checker uses when nothing is asked for: the RISC-V IOMMU for the riscv-sv*
// formats, VT-d when the domain caches non-present entries, SMMUv3 for the 64-bit LPAE formats
// it walks, SMMUv2 otherwise.
IommuKind default_iommu(const DriverInfo& info);
// Whether some IOMMU model that walks `format` caches non-present entries (none walking the
// riscv-sv* formats does).
bool np_caching_possible(std::string_view format);
IommuKind resolve_iommu(const DriverInfo& info, std::optional<IommuKind> kind);

// Why `kind` cannot serve a domain of this driver with this configuration (its format, its
// non-present caching), as a sentence; nullopt when it can.
std::optional<std::string> iommu_misfit(IommuKind kind, const DriverInfo& info);

// The IOMMU driver model's configuration for the chosen kind (resolve_iommu).
impl::IommuDriverConfig iommu_config(const DriverInfo& info, std::optional<IommuKind> kind,
                                     hw::ContextId ctx);

}  // namespace iommu::conform
