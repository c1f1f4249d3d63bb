// `iommucheck diff --kernel OLD --kernel NEW --driver linux:FORMAT` (docs/CLI.md): how the
// same op streams behave on two kernel trees' code, grouped and minimized
// (conform/kernel_diff.h). Exit 0: no difference; 1: differences; 2: usage or input error.
#include <fmt/core.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/check_domain.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/validate.h"
#include "conform/isolation.h"
#include "conform/kernel_diff.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

struct DiffArgs {
  std::vector<std::string> kernels;
  std::string driver;
  uint64_t seed = 1;
  uint64_t ops = 20000;
  std::string caller = "hostile";
  double call_timeout = 5;
  DomainArgs domain;
  std::string report_dir;
};

// The driver from one tree, in the domain --iommu and --invalidation choose.
DomainRun resolve(const DiffArgs& a, const std::string& kernel) {
  try {
    return domain_runs(conform::resolve_driver(a.driver, kernel), a.domain).front();
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
}

// --report: the run's configuration, its differences and its rate.
void report_config(Report& r, const DiffArgs& a, const DomainRun& run) {
  r.config("driver", a.driver);
  r.config("OLD kernel", a.kernels[0]);
  r.config("NEW kernel", a.kernels[1]);
  r.config("caller", a.caller);
  r.config("seed", fmt::format("{}", a.seed));
  r.config("ops", fmt::format("{}", a.ops));
  r.config("domain", run.label);
}

void report_groups(Report& r, const conform::DiffReport& d) {
  for (const conform::DiffGroup& g : d.groups) {
    ReportDifference diff{.kind = g.kind, .ops_differing = g.ops_differing,
                          .episodes = g.episodes, .old_side = g.old_side,
                          .new_side = g.new_side};
    for (const conform::Op& op : g.ops) diff.ops.push_back(conform::format_op(op));
    r.add(std::move(diff));
  }
  r.summary("ops", fmt::format("{}", d.ops));
  r.summary("episodes", fmt::format("{}", d.episodes));
  r.summary("differences", fmt::format("{}", d.groups.size()));
}

void print_group(size_t n, const conform::DiffGroup& g, const DiffArgs& a) {
  fmt::print("difference {}: {} ({} op(s) in {} episode(s))\n", n, g.kind, g.ops_differing,
             g.episodes);
  fmt::print("  shortest trace ({} op(s)):\n", g.ops.size());
  for (const conform::Op& op : g.ops) fmt::print("    {}\n", conform::format_op(op));
  fmt::print("  last op on {}: {}\n", a.kernels[0], g.old_side);
  fmt::print("  last op on {}: {}\n", a.kernels[1], g.new_side);
}

int run_diff(const DiffArgs& a) {
  if (a.kernels.size() != 2)
    throw UsageError(
        fmt::format("diff needs --kernel twice (OLD, then NEW), got {}", a.kernels.size()));
  const DomainRun old_run = resolve(a, a.kernels[0]);
  const DomainRun new_run = resolve(a, a.kernels[1]);
  Report report(a.report_dir, "diff " + a.driver);
  report_config(report, a, old_run);
  report.start_domain();
  Progress progress("diff " + a.driver, a.ops);
  conform::DiffOptions o;
  o.check.iommu = old_run.iommu;
  o.progress = [&](uint64_t ops) {
    progress.update(ops);
    report.sample(ops);
  };
  o.seed = a.seed;
  o.ops = a.ops;
  o.mode = a.caller == "contract" ? conform::CallerMode::kContract : conform::CallerMode::kHostile;
  o.call_timeout = a.call_timeout;
  conform::DiffReport r;
  try {
    r = conform::diff_drivers(old_run.source, new_run.source, o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  } catch (const std::runtime_error& e) {  // IsolationError, or a nondeterministic driver
    throw UsageError(e.what());
  }
  progress.finish();
  for (size_t i = 0; i < r.groups.size(); i++) print_group(i + 1, r.groups[i], a);
  report.sample(r.ops);
  report_groups(report, r);
  report.write();
  fmt::print("summary: driver={} ops={} episodes={} differences={} ({})\n", a.driver, r.ops,
             r.episodes, r.groups.size(), old_run.label);
  return r.groups.empty() ? kExitOk : kExitViolation;
}

}  // namespace

void add_diff_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand(
      "diff",
      "The same op streams against a linux: driver from two kernel trees: every kind of "
      "op where they behave differently, minimized");
  cmd->add_option("--kernel", o->kernels, "Linux tree, given twice: OLD, then NEW")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--driver", o->driver, "linux:FORMAT")->required();
  add_count_option(
      cmd, "--seed", 0, kMaxU64, [o](uint64_t v) { o->seed = v; }, "Random seed (default 1)");
  add_count_option(
      cmd, "--ops", 1, kMaxU64, [o](uint64_t v) { o->ops = v; },
      "Number of operations (default 20000)");
  cmd->add_option("--caller", o->caller, "contract: only correct calls; hostile: misuse too")
      ->check(CLI::IsMember({"contract", "hostile"}))
      ->capture_default_str();
  cmd->add_option("--call-timeout", o->call_timeout,
                  "Seconds one driver call may take before it counts as a hang")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  cmd->add_option("--iommu", o->domain.iommu,
                  "IOMMU model, as in check (default: the checker's for the format)");
  cmd->add_option("--invalidation", o->domain.invalidation, "strict or lazy, as in check")
      ->check(CLI::IsMember({"strict", "lazy"}))
      ->capture_default_str();
  add_report_option(cmd, o->report_dir);
  cmd->callback([&action, o] { action = [o] { return run_diff(*o); }; });
}

}  // namespace iommu::cli
