// IOMMU protection flags with Linux's values (include/linux/iommu.h), and their text form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace iommu {

enum Prot : int {
  IOMMU_READ = 1 << 0,
  IOMMU_WRITE = 1 << 1,
  IOMMU_CACHE = 1 << 2,
  IOMMU_NOEXEC = 1 << 3,
  IOMMU_MMIO = 1 << 4,
  IOMMU_PRIV = 1 << 5,
};

inline constexpr int kProtMask = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC |
                                 IOMMU_MMIO | IOMMU_PRIV;

// Short text form used in traces and output: r (read), w (write), c (cache), n (noexec),
// m (mmio), p (priv), in that order; "-" for none. Example: "rw", "rn", "rwcp".
std::string prot_to_string(int prot);

// Inverse of prot_to_string; nullopt when a letter is unknown or repeated.
std::optional<int> prot_from_string(std::string_view text);

}  // namespace iommu
