#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/text.h"
#include "cli/validate.h"
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

std::string mutant_names() {
  std::string names;
  for (const conform::MutantSpec& spec : conform::mutant_specs())
    names += (names.empty() ? "" : " ") + std::string(spec.name);
  return names;
}

int run_mutants(const MutantsArgs& a) {
  if (a.source != "impl") {
    throw UsageError(fmt::format("--driver-source {}: only the impl mutants exist in this build "
                                 "(the linux adapter is not built yet)",
                                 a.source));
  }
  const auto specs = conform::mutant_specs();
  auto named = [&](const conform::MutantSpec& s) { return s.name == a.only; };
  if (!a.only.empty() && std::none_of(specs.begin(), specs.end(), named))
    throw UsageError(fmt::format("--only {}: no such mutant; valid names: {}", a.only,
                                 mutant_names()));
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
    if (r.killed) fmt::print("    {} (minimized to {} ops)\n", printable(r.violation), r.trace_ops);
  }
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
  add_seconds_option(cmd, "--seconds-per", 0.1, kMaxSeconds, [a](double v) { a->seconds_per = v; },
                     "Time limit per mutant (default 30)");
  add_count_option(cmd, "--seed", 0, kMaxU64, [a](uint64_t v) { a->seed = v; },
                   "Random seed (default 1)");
  cmd->add_option("--only", a->only, "Run only the mutant of this name");
  cmd->callback([&action, a] { action = [a] { return run_mutants(*a); }; });
}

}  // namespace iommu::cli
