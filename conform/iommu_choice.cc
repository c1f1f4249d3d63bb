#include "conform/iommu_choice.h"

#include <fmt/core.h>

#include <array>

#include "base/bits.h"

namespace iommu::conform {
namespace {

struct KindEntry {
  IommuKind kind;
  std::string_view name;
};

constexpr std::array<KindEntry, 6> kKinds = {{
    {IommuKind::kSmmuV3, "smmuv3"},
    {IommuKind::kSmmuV3NoRange, "smmuv3-norange"},
    {IommuKind::kSmmuV2, "smmuv2"},
    {IommuKind::kVtd, "vtd"},
    {IommuKind::kAmd, "amd"},
    {IommuKind::kRiscv, "riscv"},
}};

constexpr std::array<IommuKind, kKinds.size()> kOrder = [] {
  std::array<IommuKind, kKinds.size()> kinds{};
  for (size_t i = 0; i < kKinds.size(); i++) kinds[i] = kKinds[i].kind;
  return kinds;
}();

// SMMUv3 walks only the 64-bit LPAE formats; its TTL hints assume their levels (a v7s 64K
// leaf survives a range command whose TTL says 4K).
bool smmuv3_walks(const DriverInfo& info) { return info.format.name.starts_with("arm-64-lpae"); }

// Only the RISC-V IOMMU walks the RISC-V tables, and it walks nothing else.
bool riscv_format(const DriverInfo& info) { return info.format.name.starts_with("riscv-sv"); }

bool is_smmuv3(IommuKind kind) {
  return kind == IommuKind::kSmmuV3 || kind == IommuKind::kSmmuV3NoRange;
}

// Which IOMMUs walk the x86 formats: AMD-Vi its v1 host tables, VT-d its second stage, and
// both the x86-64 format (VT-d first stage, AMD v2).
std::optional<std::string> x86_misfit(IommuKind kind, const DriverInfo& info) {
  const std::string& f = info.format.name;
  const bool amd = kind == IommuKind::kAmd, vtd = kind == IommuKind::kVtd;
  const bool fits = f == "amd-v1" ? amd : f == "vtd-ss" ? vtd : f == "x86-64" ? amd || vtd : true;
  if (fits) return std::nullopt;
  return fmt::format("{} cannot serve {}: {} tables are walked by {}", iommu_name(kind), info.name,
                     f, f == "amd-v1" ? "AMD-Vi (amd)" : f == "vtd-ss" ? "VT-d (vtd)" : "vtd or amd");
}

}  // namespace

std::span<const IommuKind> iommu_kinds() { return kOrder; }

std::string_view iommu_name(IommuKind kind) {
  for (const KindEntry& e : kKinds)
    if (e.kind == kind) return e.name;
  return "?";
}

std::optional<IommuKind> parse_iommu(std::string_view name) {
  for (const KindEntry& e : kKinds)
    if (e.name == name) return e.kind;
  return std::nullopt;
}

std::string iommu_name_list() { return "smmuv3, smmuv3-norange, smmuv2, vtd, amd or riscv"; }

bool np_caching_possible(std::string_view format) { return !format.starts_with("riscv-sv"); }

IommuKind default_iommu(const DriverInfo& info) {
  if (riscv_format(info)) return IommuKind::kRiscv;
  if (info.format.name == "amd-v1") return IommuKind::kAmd;
  if (info.format.name == "vtd-ss" || info.format.name == "x86-64") return IommuKind::kVtd;
  if (info.config.np_caching) return IommuKind::kVtd;
  return smmuv3_walks(info) ? IommuKind::kSmmuV3 : IommuKind::kSmmuV2;
}

IommuKind resolve_iommu(const DriverInfo& info, std::optional<IommuKind> kind) {
  return kind ? *kind : default_iommu(info);
}

std::optional<std::string> iommu_misfit(IommuKind kind, const DriverInfo& info) {
  const bool vendor_x86 = kind == IommuKind::kVtd || kind == IommuKind::kAmd;
  if (info.config.np_caching && !vendor_x86) {
    return fmt::format(
        "non-present caching needs the vtd or amd IOMMU: {} never caches "
        "non-present entries",
        iommu_name(kind));
  }
  if (kind == IommuKind::kRiscv && !riscv_format(info)) {
    return fmt::format("riscv cannot serve {}: the RISC-V IOMMU walks only the riscv-sv* formats{}",
                       info.name,
                       info.walkable() ? fmt::format(", not {}", info.format.name) : "");
  }
  if (kind != IommuKind::kRiscv && riscv_format(info)) {
    return fmt::format("{} cannot serve {}: only the RISC-V IOMMU (riscv) walks the riscv-sv* "
                       "formats",
                       iommu_name(kind), info.name);
  }
  if (auto why = x86_misfit(kind, info)) return why;
  if (is_smmuv3(kind) && !smmuv3_walks(info)) {
    return fmt::format(
        "{} cannot serve {}: SMMUv3 walks only the 64-bit LPAE formats "
        "(arm-64-lpae-*){}",
        iommu_name(kind), info.name,
        info.walkable() ? fmt::format(", not {}", info.format.name) : "");
  }
  return std::nullopt;
}

impl::IommuDriverConfig iommu_config(const DriverInfo& info, std::optional<IommuKind> kind,
                                     hw::ContextId ctx) {
  const IommuKind k = resolve_iommu(info, kind);
  if (auto why = iommu_misfit(k, info)) throw std::invalid_argument(*why);
  const uint64_t min = info.config.min_pgsize();
  impl::IommuDriverConfig c;
  c.ctx = ctx;
  c.np_caching = info.config.np_caching;
  switch (k) {
    case IommuKind::kVtd:
      c.style = impl::IommuStyle::kVtd;
      break;
    case IommuKind::kAmd:
      c.style = impl::IommuStyle::kAmd;
      break;
    case IommuKind::kRiscv:
      c.style = impl::IommuStyle::kRiscv;
      break;
    default:
      c.style = impl::IommuStyle::kSmmuV3;
  }
  c.smmu_stage = info.format.name.find("-s2") != std::string::npos ? 2 : 1;
  c.smmu_page_shift = (min == 0x4000 || min == 0x10000) ? fls64_idx(min) : 12;
  // SMMUv2's TLBIVA / TLBIIPAS2 invalidate by address, reaching every entry that holds it, as
  // SMMUv3's single-address (TG=0) commands do: the model sends those for both.
  c.smmu_range_inv = k == IommuKind::kSmmuV3;
  return c;
}

}  // namespace iommu::conform
