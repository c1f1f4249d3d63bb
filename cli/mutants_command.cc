#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/command.h"
#include "conform/mutants.h"

namespace iommu::cli {
namespace {

struct MutantsArgs {
  std::string source = "impl";
  std::string kernel;
  double seconds_per = 30;
  uint64_t seed = 1;
  std::string only;
};

int run_mutants(const MutantsArgs& a) {
  if (a.source != "impl") {
    throw UsageError(fmt::format("--driver-source {}: only the impl mutants exist in this build "
                                 "(the linux adapter is not built yet)",
                                 a.source));
  }
  size_t killed = 0, run = 0;
  fmt::print("{:<26} {:<9} {:<12} {:>9} {:>8}  {}\n", "mutant", "result", "check", "seconds",
             "ops", "models");
  for (const conform::MutantSpec& spec : conform::mutant_specs()) {
    if (!a.only.empty() && spec.name != a.only) continue;
    fmt::print(stderr, "mutant {} on {}...\n", spec.name, spec.format);
    const conform::MutantResult r = conform::run_mutant(spec, a.seconds_per, a.seed);
    run++;
    killed += r.killed;
    fmt::print("{:<26} {:<9} {:<12} {:>9.2f} {:>8}  {}\n", spec.name,
               r.killed ? "killed" : "SURVIVED", r.killed ? r.check : "-", r.seconds, r.ops,
               spec.models);
    if (r.killed) fmt::print("    {} (minimized to {} ops)\n", r.violation, r.trace_ops);
  }
  if (run == 0) throw UsageError(fmt::format("--only {}: no such mutant", a.only));
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  return killed == run ? kExitOk : kExitViolation;
}

}  // namespace

void add_mutants_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<MutantsArgs>();
  auto* cmd = app.add_subcommand(
      "mutants", "The bug zoo: run each seeded bug until a check kills it (exit 0 iff all are)");
  cmd->add_option("--driver-source", a->source, "impl (linux: not built yet)")
      ->check(CLI::IsMember({"impl", "linux"}))
      ->capture_default_str();
  cmd->add_option("--kernel", a->kernel, "Linux tree for --driver-source linux")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--seconds-per", a->seconds_per, "Time limit per mutant")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  cmd->add_option("--only", a->only, "Run only the mutant of this name");
  cmd->callback([&action, a] { action = [a] { return run_mutants(*a); }; });
}

}  // namespace iommu::cli
