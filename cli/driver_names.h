// Driver names as the CLI contract spells them (docs/CLI.md): impl:FORMAT, linux:FORMAT,
// plugin:PATH.so. Resolving a name to an adapter lands with conform/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace iommu::cli {

struct DriverInfo {
  std::string name;
  std::string description;
};

inline constexpr const char* kPlannedDrivers = "impl:FORMAT, linux:FORMAT and plugin:PATH.so";

// The drivers this build can check.
const std::vector<DriverInfo>& available_drivers();

// Throws UsageError naming the problem unless `name` is an available driver.
const DriverInfo& resolve_driver(std::string_view name);

}  // namespace iommu::cli
