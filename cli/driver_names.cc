#include "cli/driver_names.h"

#include <fmt/core.h>

#include "cli/command.h"

namespace iommu::cli {

const std::vector<DriverInfo>& available_drivers() {
  static const std::vector<DriverInfo> drivers;
  return drivers;
}

const DriverInfo& resolve_driver(std::string_view name) {
  for (const DriverInfo& d : available_drivers())
    if (d.name == name) return d;
  const auto colon = name.find(':');
  const std::string_view kind = name.substr(0, colon);
  if (colon == std::string_view::npos || (kind != "impl" && kind != "linux" && kind != "plugin"))
    throw UsageError(fmt::format("unknown driver '{}': driver names have the form {}", name,
                                 kPlannedDrivers));
  throw UsageError(fmt::format("driver '{}' is not available in this build; "
                               "`iommucheck drivers` lists the available ones",
                               name));
}

}  // namespace iommu::cli
