#include <fmt/core.h>

#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "cli/driver_names.h"

namespace iommu::cli {
namespace {

struct CheckOptions {
  std::string driver;
  std::string kernel;
  uint64_t seed = 1;
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  std::string caller = "contract";
  std::string out = "findings";
  unsigned jobs = 1;
};

int run_check(const CheckOptions& o) {
  const DriverInfo& driver = resolve_driver(o.driver);
  throw UsageError(fmt::format("driver '{}' has no checker yet", driver.name));
}

}  // namespace

void add_check_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check", "Randomized differential campaign of a driver against "
                                          "the reference model and the hardware model");
  cmd->add_option("--driver", o->driver, "impl:FORMAT, linux:FORMAT or plugin:PATH.so")->required();
  cmd->add_option("--kernel", o->kernel, "Linux tree for linux:FORMAT drivers")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  auto* ops = cmd->add_option("--ops", o->ops, "Number of operations")->check(CLI::PositiveNumber);
  cmd->add_option("--time", o->seconds, "Run for this many seconds")
      ->check(CLI::PositiveNumber)
      ->excludes(ops);
  cmd->add_option("--caller", o->caller, "contract: only correct calls; hostile: misuse too")
      ->check(CLI::IsMember({"contract", "hostile"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for minimized findings")->capture_default_str();
  cmd->add_option("--jobs", o->jobs, "Parallel runs")->check(CLI::Range(1u, 256u))->capture_default_str();
  cmd->callback([&action, o] { action = [o] { return run_check(*o); }; });
}

}  // namespace iommu::cli
