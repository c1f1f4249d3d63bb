#include <fmt/core.h>

#include <memory>

#include "cli/command.h"
#include "conform/registry.h"

namespace iommu::cli {

void add_drivers_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("drivers", "List the drivers this build can check (NAME<TAB>description)");
  auto kernel = std::make_shared<std::string>();
  cmd->add_option("--kernel", *kernel, "Linux tree: list its linux:FORMAT drivers (docs/LINUX.md)")
      ->check(CLI::ExistingDirectory);
  cmd->callback([&action, kernel] {
    action = [kernel] {
      std::vector<conform::DriverListing> drivers;
      try {
        drivers = conform::available_drivers(*kernel);
      } catch (const conform::DriverError& e) {
        throw UsageError(e.what());
      }
      for (const conform::DriverListing& d : drivers) fmt::print("{}\t{}\n", d.name, d.description);
      return kExitOk;
    };
  });
}

}  // namespace iommu::cli
