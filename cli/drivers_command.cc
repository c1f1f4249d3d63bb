#include <fmt/core.h>

#include "cli/command.h"
#include "conform/registry.h"

namespace iommu::cli {

void add_drivers_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("drivers", "List the drivers this build can check (NAME<TAB>description)");
  cmd->callback([&action] {
    action = [] {
      for (const conform::DriverListing& d : conform::available_drivers()) {
        fmt::print("{}\t{}\n", d.name, d.description);
      }
      return kExitOk;
    };
  });
}

}  // namespace iommu::cli
