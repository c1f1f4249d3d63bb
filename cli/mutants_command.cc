#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/dma_check.h"
#include "cli/iopt_check.h"
#include "cli/progress.h"
#include "cli/results.h"
#include "cli/report.h"
#include "cli/text.h"
#include "cli/validate.h"
#include "conform/linux_build.h"
#include "conform/linux_mutants.h"
#include "conform/mutants.h"

namespace iommu::cli {
namespace {

struct MutantsArgs {
  std::string source = "impl";
  std::string kernel;
  double seconds_per = 30;
  uint64_t seed = 1;
  std::string only;
  bool unmutated = false;
  std::string write_tree;
  std::string out;  // iopt: where the kills' traces go
  ResultsOptions results;
  std::string report_dir;
  Report* report = nullptr;  // run_reported's, for --report
};

std::string mutant_names() {
  std::string names;
  for (const conform::MutantSpec& spec : conform::mutant_specs())
    names += (names.empty() ? "" : " ") + std::string(spec.name);
  return names;
}

std::string linux_mutant_names() {
  std::string names;
  for (const conform::LinuxMutantSpec& spec : conform::linux_mutant_specs())
    names += (names.empty() ? "" : " ") + std::string(spec.name);
  return names;
}

// The kernel zoo: each mutant is a copy of the tree with one edit, built and checked. With
// --unmutated, each mutant's configuration on the tree as it is (nothing may be killed).
int run_linux_mutants(const MutantsArgs& a, Results& results) {
  if (a.kernel.empty())
    throw UsageError("--driver-source linux: give the Linux tree with --kernel DIR");
  const auto specs = conform::linux_mutant_specs();
  auto named = [&](const conform::LinuxMutantSpec& s) { return s.name == a.only; };
  if (!a.only.empty() && std::none_of(specs.begin(), specs.end(), named))
    throw UsageError(fmt::format("--only {}: no such kernel mutant; valid names: {}", a.only,
                                 linux_mutant_names()));
  if (!a.write_tree.empty()) {
    if (a.only.empty()) throw UsageError("--write-tree: name the mutant with --only NAME");
    try {
      const std::string applied = conform::apply_linux_mutant(
          *std::find_if(specs.begin(), specs.end(), named), a.kernel, a.write_tree);
      fmt::print("{}: {} (the edit written for Linux {})\n", a.only, a.write_tree, applied);
    } catch (const conform::LinuxMutantError& e) {
      throw UsageError(e.what());
    }
    return kExitOk;
  }
  size_t killed = 0, run = 0, not_applicable = 0;
  fmt::print("{:<26} {:<9} {:<12} {:>9} {:>8}  {}\n", "mutant", "result", "check", "seconds", "ops",
             "models");
  Progress progress("mutants linux", a.only.empty() ? specs.size() : 1, std::nullopt, "mutants");
  for (const conform::LinuxMutantSpec& spec : specs) {
    if (!a.only.empty() && spec.name != a.only) continue;
    progress.update(run + not_applicable, fmt::format("{} on linux:{}{}", spec.name, spec.format,
                                                      a.unmutated ? " (unmutated)" : ""));
    conform::LinuxMutantResult r;
    try {
      r = conform::run_linux_mutant(spec, a.kernel, a.seconds_per, a.seed, !a.unmutated);
    } catch (const conform::LinuxMutantError& e) {
      // Asked for by name, it must apply; in a whole run, the other version's mutants do not.
      if (!a.only.empty()) throw UsageError(e.what());
      not_applicable++;
      a.report->add(ReportMutant{.name = std::string(spec.name), .result = "n/a",
                                 .models = std::string(spec.models), .message = e.what()});
      fmt::print("{:<26} {:<9} {:<12} {:>9} {:>8}  {}\n    {}\n", spec.name, "n/a", "-", "-", "-",
                 spec.models, e.what());
      results.cases.push_back({.name = std::string(spec.name),
                               .verdict = Verdict::kSkip,
                               .message = fmt::format("not applicable: {}", e.what()),
                               .log = {std::string(spec.models)}});
      continue;
    } catch (const conform::LinuxBuildError& e) {
      throw UsageError(fmt::format("mutant {}: {}", spec.name, e.what()));
    }
    run++;
    killed += r.killed;
    a.report->add(mutant_row(spec.name, spec.models, r, a.unmutated));
    fmt::print("{:<26} {:<9} {:<12} {:>9.2f} {:>8}  {}\n", spec.name,
               r.killed ? "killed" : (a.unmutated ? "clean" : "SURVIVED"), r.killed ? r.check : "-",
               r.seconds, r.ops, spec.models);
    if (r.killed) fmt::print("    {} (minimized to {} ops)\n", printable(r.violation), r.trace_ops);
    results.cases.push_back(mutant_case(spec.name, spec.models, r, a.unmutated));
  }
  progress.finish();
  fmt::print("summary: mutants={} killed={} survived={} not-applicable={}{}\n", run, killed,
             run - killed, not_applicable, a.unmutated ? " (unmutated)" : "");
  results.summary = {{"mutants", uint64_t{run}},
                     {"killed", uint64_t{killed}},
                     {"survived", uint64_t{run - killed}},
                     {"not_applicable", uint64_t{not_applicable}},
                     {"unmutated", a.unmutated}};
  if (a.unmutated) return killed == 0 ? kExitOk : kExitViolation;
  return killed == run ? kExitOk : kExitViolation;
}

// The seeded bugs of impl: one row per mutant.
int run_impl_mutants(const MutantsArgs& a, Results& results) {
  if (!a.out.empty()) throw UsageError("--out: only with --driver-source iopt");
  if (a.unmutated) throw UsageError("--unmutated: only with --driver-source linux");
  const auto specs = conform::mutant_specs();
  auto named = [&](const conform::MutantSpec& s) { return s.name == a.only; };
  if (!a.only.empty() && std::none_of(specs.begin(), specs.end(), named))
    throw UsageError(
        fmt::format("--only {}: no such mutant; valid names: {}", a.only, mutant_names()));
  size_t killed = 0, run = 0;
  fmt::print("{:<26} {:<9} {:<12} {:>9} {:>8}  {}\n", "mutant", "result", "check", "seconds", "ops",
             "models");
  Progress progress("mutants impl", a.only.empty() ? specs.size() : 1, std::nullopt, "mutants");
  for (const conform::MutantSpec& spec : conform::mutant_specs()) {
    if (!a.only.empty() && spec.name != a.only) continue;
    progress.update(run, fmt::format("{} on {}", spec.name, spec.format));
    const conform::MutantResult r = conform::run_mutant(spec, a.seconds_per, a.seed);
    run++;
    killed += r.killed;
    a.report->add(mutant_row(spec.name, spec.models, r, false));
    fmt::print("{:<26} {:<9} {:<12} {:>9.2f} {:>8}  {}\n", spec.name,
               r.killed ? "killed" : "SURVIVED", r.killed ? r.check : "-", r.seconds, r.ops,
               spec.models);
    if (r.killed) fmt::print("    {} (minimized to {} ops)\n", printable(r.violation), r.trace_ops);
    results.cases.push_back(mutant_case(spec.name, spec.models, r));
  }
  progress.finish();
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  results.summary = mutants_summary(run, killed);
  return killed == run ? kExitOk : kExitViolation;
}

int run_mutants(const MutantsArgs& a) {
  ResultsOutput output(a.results);
  Results results{.command = "mutants",
                  .suite = "mutants " + a.source,
                  .config = {{"driver_source", a.source},
                             {"seconds_per", a.seconds_per},
                             {"seed", a.seed},
                             {"only", a.only},
                             {"kernel", a.kernel},
                             {"unmutated", a.unmutated}}};
  if (a.source == "linux") {
    if (!a.write_tree.empty() && output.active())
      throw UsageError("--write-tree runs no mutant: --junit, --ktap and --json need a run");
    results.exit_code = run_linux_mutants(a, results);
  } else if (a.source == "iopt") {
    results.exit_code = run_iopt_mutants(a.only, a.seconds_per, a.seed, a.out, results);
  } else if (a.source == "dma") {
    if (!a.out.empty()) throw UsageError("--out: only with --driver-source iopt");
    results.exit_code = run_dma_mutants(a.only, a.seconds_per, a.seed, results);
  } else {
    results.exit_code = run_impl_mutants(a, results);
  }
  return output.write(results);
}

// --report: the run's configuration and one row per mutant, as a page.
int run_reported(MutantsArgs& a) {
  Report report(a.report_dir, "mutants --driver-source " + a.source);
  if (report.on() && (a.source == "iopt" || a.source == "dma" || !a.write_tree.empty()))
    throw UsageError("--report: the mutants of impl and linux are reported; iopt and dma have "
                     "their own tables, and --write-tree runs none");
  report.config("driver source", a.source);
  if (!a.kernel.empty()) report.config("kernel", a.kernel);
  report.config("seconds per mutant", fmt::format("{}", a.seconds_per));
  report.config("seed", fmt::format("{}", a.seed));
  report.config("mutants", a.only.empty() ? "all" : a.only);
  if (a.unmutated) report.config("unmutated", "yes: each mutant's configuration, unedited");
  a.report = &report;
  const int code = run_mutants(a);
  report.write();
  return code;
}

}  // namespace

void add_mutants_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<MutantsArgs>();
  auto* cmd = app.add_subcommand(
      "mutants", "The bug zoo: run each seeded bug until a check kills it (exit 0 iff all are)");
  cmd->add_option("--driver-source", a->source,
                  "impl (our seeded bugs), linux (edits of --kernel's sources), dma (the DMA "
                  "layer's seeded bugs) or iopt (the "
                  "storage layer's seeded bugs)")
      ->check(CLI::IsMember({"impl", "linux", "iopt", "dma"}))
      ->capture_default_str();
  cmd->add_option("--kernel", a->kernel, "Linux tree for --driver-source linux")
      ->check(CLI::ExistingDirectory);
  add_seconds_option(
      cmd, "--seconds-per", 0.1, kMaxSeconds, [a](double v) { a->seconds_per = v; },
      "Time limit per mutant (default 30)");
  add_count_option(
      cmd, "--seed", 0, kMaxU64, [a](uint64_t v) { a->seed = v; }, "Random seed (default 1)");
  cmd->add_option("--only", a->only, "Run only the mutant of this name");
  cmd->add_option("--write-tree", a->write_tree,
                  "linux: write the --only mutant's copy of the tree's io-pgtable files to DIR "
                  "and stop (for running other tests on it: scripts/kernel-zoo-table.sh)");
  cmd->add_option("--out", a->out,
                  "iopt: write each kill's minimized trace to DIR (`replay` re-runs it)");
  cmd->add_flag("--unmutated", a->unmutated,
                "linux: run each mutant's configuration on the tree as it is (exit 0 iff none "
                "is killed)");
  add_results_options(cmd, a->results);
  add_report_option(cmd, a->report_dir);
  cmd->callback([&action, a] { action = [a] { return run_reported(*a); }; });
}

}  // namespace iommu::cli
