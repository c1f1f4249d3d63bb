#include <fmt/core.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/check_domain.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "conform/campaign.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

struct CheckArgs {
  std::string driver;
  std::string kernel;
  uint64_t seed = 1;
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  std::string caller = "contract";
  std::string out = "findings";
  unsigned jobs = 1;
  DomainArgs domain;
};

// Job j runs seed + j; the op budget is split between jobs.
conform::CampaignOptions job_options(const CheckArgs& a, unsigned job,
                                     const std::atomic<bool>& stop) {
  conform::CampaignOptions o;
  o.seed = a.seed + job;
  o.mode = a.caller == "hostile" ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  o.stop = &stop;
  if (a.seconds) o.seconds = *a.seconds;
  if (a.ops) o.ops = *a.ops / a.jobs + (job < *a.ops % a.jobs ? 1 : 0);
  if (!a.ops && !a.seconds) o.ops = 100000 / a.jobs;
  return o;
}

std::string finding_path(const CheckArgs& a, const conform::Finding& f, uint64_t seed) {
  std::string name = a.driver.substr(0, a.driver.find(':')) + "-";
  const std::string rest = a.driver.substr(a.driver.find(':') + 1);
  name += std::filesystem::path(rest).filename().string();
  return (std::filesystem::path(a.out) /
          fmt::format("{}-seed{}-{}.trace", name, seed, f.violation.check))
      .string();
}

std::string write_finding(const CheckArgs& a, const DomainRun& run, const conform::Finding& f,
                          uint64_t seed) {
  const conform::DriverSource& src = run.source;
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) throw UsageError(fmt::format("--out {}: {}", a.out, ec.message()));
  const std::string path = finding_path(a, f, seed);
  conform::Trace t{.driver = src.info.name,
                   .config = src.info.config,
                   .iommu = run.iommu,
                   .seed = seed,
                   .ops = f.ops};
  const std::string comment = fmt::format(
      "{}\nminimized from {} ops in {} replays; replay with: iommucheck replay {}",
      f.minimized.message(), f.original_ops, f.minimize_tests, path);
  conform::write_trace_file(path, t, comment);
  return path;
}

DomainTally run_domain(const CheckArgs& all, const DomainRun& run, const DomainBudget& budget) {
  CheckArgs a = all;
  a.ops = budget.ops;
  a.seconds = budget.seconds;
  a.out = budget.out;
  const conform::DriverSource& src = run.source;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<conform::CampaignReport> reports(a.jobs);
  std::vector<uint64_t> last(a.jobs, 0);
  std::mutex mu;
  const std::string what = a.domain.matrix ? fmt::format("{} [{}]", a.driver, run.label) : a.driver;
  Progress progress("check " + what, a.ops.value_or(a.seconds ? 0 : 100000));
  auto job = [&](unsigned j) {
    conform::CampaignOptions o = job_options(a, j, stop);
    o.check.iommu = run.iommu;
    o.progress = [&, j](uint64_t n) {
      done += n - last[j];
      last[j] = n;
      std::lock_guard lock(mu);
      progress.update(done);
    };
    reports[j] = conform::run_campaign(src, o);
    if (reports[j].finding) stop = true;
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; j++) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();

  DomainTally tally;
  for (unsigned j = 0; j < a.jobs; j++) {
    tally.ops += reports[j].ops;
    if (!reports[j].finding) continue;
    tally.violations++;
    const conform::Finding& f = *reports[j].finding;
    fmt::print("VIOLATION: {}\n", f.violation.message());
    fmt::print("minimized trace ({} ops): {}\n", f.ops.size(), write_finding(a, run, f, a.seed + j));
  }
  tally.seconds = progress.seconds();
  return tally;
}

int run_check(const CheckArgs& a) {
  conform::DriverSource src;
  try {
    src = conform::resolve_driver(a.driver, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
  const DomainTally total = run_domains(
      domain_runs(src, a.domain), {.ops = a.ops, .seconds = a.seconds, .out = a.out}, a.jobs,
      [&](const DomainRun& run, const DomainBudget& b) { return run_domain(a, run, b); });
  const double s = total.seconds;
  fmt::print("summary: driver={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n", a.driver,
             total.ops, total.violations, s, static_cast<double>(total.ops) / (s > 0 ? s : 1));
  return total.violations == 0 ? kExitOk : kExitViolation;
}

}  // namespace

void add_check_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand("check", "Randomized differential campaign of a driver against "
                                          "the reference model and the hardware model");
  cmd->add_option("--driver", o->driver, "impl:FORMAT, linux:FORMAT or plugin:PATH.so")->required();
  cmd->add_option("--kernel", o->kernel, "Linux tree for linux:FORMAT drivers")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  auto* ops = cmd->add_option("--ops", o->ops, "Number of operations (default 100000)")
                  ->check(CLI::PositiveNumber);
  cmd->add_option("--time", o->seconds, "Run for this many seconds")
      ->check(CLI::PositiveNumber)
      ->excludes(ops);
  cmd->add_option("--caller", o->caller, "contract: only correct calls; hostile: misuse too")
      ->check(CLI::IsMember({"contract", "hostile"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for minimized findings")->capture_default_str();
  cmd->add_option("--jobs", o->jobs, "Parallel runs")->check(CLI::Range(1u, 256u))->capture_default_str();
  auto* iommu = cmd->add_option("--iommu", o->domain.iommu,
                                "IOMMU model: smmuv3, smmuv3-norange, smmuv2, vtd or amd "
                                "(default: SMMUv3 for arm-64-lpae formats, SMMUv2 otherwise, "
                                "VT-d with --np-caching)");
  auto* inv = cmd->add_option("--invalidation", o->domain.invalidation,
                              "strict: unmap invalidates; lazy: a flush queue, stale until "
                              "flush_iotlb_all")
                  ->check(CLI::IsMember({"strict", "lazy"}))
                  ->capture_default_str();
  auto* np = cmd->add_flag("--np-caching", o->domain.np_caching,
                           "The IOMMU caches non-present entries (vtd or amd only)");
  cmd->add_flag("--matrix", o->domain.matrix,
                "Run every combination of IOMMU model, invalidation and non-present caching "
                "that fits the driver, the budget shared between them")
      ->excludes(iommu)
      ->excludes(inv)
      ->excludes(np);
  cmd->callback([&action, o] { action = [o] { return run_check(*o); }; });
}

}  // namespace iommu::cli
