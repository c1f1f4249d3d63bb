#include <fmt/core.h>

#include "cli/command.h"
#include "cli/driver_names.h"

namespace iommu::cli {

void add_drivers_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("drivers", "List the drivers this build can check (NAME<TAB>description)");
  cmd->callback([&action] {
    action = [] {
      for (const DriverInfo& d : available_drivers()) fmt::print("{}\t{}\n", d.name, d.description);
      if (available_drivers().empty())
        fmt::print(stderr, "no driver adapters in this build yet ({}); `iommucheck selfcheck` "
                           "checks the reference model itself\n",
                   kPlannedDrivers);
      return kExitOk;
    };
  });
}

}  // namespace iommu::cli
