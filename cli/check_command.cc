#include <fmt/core.h>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/finding_file.h"
#include "cli/progress.h"
#include "cli/validate.h"
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
  uint64_t table_memory = 0;  // 0: the model's default
};

// Job j runs seed + j; the op budget is split between jobs.
conform::CampaignOptions job_options(const CheckArgs& a, unsigned job,
                                     const std::atomic<bool>& stop) {
  conform::CampaignOptions o;
  o.seed = a.seed + job;
  o.mode = a.caller == "hostile" ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  o.stop = &stop;
  o.check.table_memory = a.table_memory;
  if (a.seconds) o.seconds = *a.seconds;
  if (a.ops) o.ops = *a.ops / a.jobs + (job < *a.ops % a.jobs ? 1 : 0);
  if (!a.ops && !a.seconds) o.ops = 100000 / a.jobs;
  return o;
}

// Everything that can be judged before the run is, so that no run ends in a usage error.
void check_args(const CheckArgs& a, const conform::DriverSource& src) {
  if (a.ops && *a.ops < a.jobs)
    throw UsageError(fmt::format("--ops {} is fewer than --jobs {}: each job needs at least one op",
                                 *a.ops, a.jobs));
  if (a.seed > kMaxU64 - (a.jobs - 1))
    throw UsageError(fmt::format("--seed {} with --jobs {}: the last job's seed, {} + {}, is "
                                 "more than 64 bits",
                                 a.seed, a.jobs, a.seed, a.jobs - 1));
  if (a.table_memory) check_table_memory(a.table_memory, src.info.config.oas);
  check_finding_target({a.out, a.driver, a.caller}, src);
}

int run_check(const CheckArgs& a) {
  conform::DriverSource src;
  try {
    src = conform::resolve_driver(a.driver, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
  check_args(a, src);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<conform::CampaignReport> reports(a.jobs);
  std::vector<std::exception_ptr> errors(a.jobs);
  std::vector<uint64_t> last(a.jobs, 0);
  std::mutex mu;
  Progress progress("check " + a.driver, a.ops.value_or(a.seconds ? 0 : 100000));
  auto job = [&](unsigned j) {
    conform::CampaignOptions o = job_options(a, j, stop);
    o.progress = [&, j](uint64_t n) {
      done += n - last[j];
      last[j] = n;
      std::lock_guard lock(mu);
      progress.update(done);
    };
    try {
      reports[j] = conform::run_campaign(src, o);
    } catch (...) {
      errors[j] = std::current_exception();  // e.g. conform::ModelLimitError
    }
    if (reports[j].finding || errors[j]) stop = true;
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; j++) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();

  uint64_t ops = 0, violations = 0;
  for (unsigned j = 0; j < a.jobs; j++) {
    ops += reports[j].ops;
    if (!reports[j].finding) continue;
    violations++;
    report_finding({a.out, a.driver, a.caller}, src, *reports[j].finding, a.seed + j);
  }
  for (const std::exception_ptr& e : errors) {
    if (!e) continue;
    if (violations == 0) std::rethrow_exception(e);
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      fmt::print(stderr, "iommucheck: another job stopped without a verdict: {}\n", x.what());
    }
  }
  if (ops == 0 && violations == 0)
    throw UsageError("no op ran, so nothing was checked: give the campaign more --time");
  const double s = progress.seconds();
  fmt::print("summary: driver={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n", a.driver,
             ops, violations, s, static_cast<double>(ops) / (s > 0 ? s : 1));
  return violations == 0 ? kExitOk : kExitViolation;
}

}  // namespace

void add_check_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand("check", "Randomized differential campaign of a driver against "
                                          "the reference model and the hardware model");
  cmd->add_option("--driver", o->driver, "impl:FORMAT, linux:FORMAT or plugin:PATH.so")->required();
  cmd->add_option("--kernel", o->kernel, "Linux tree for linux:FORMAT drivers")
      ->check(CLI::ExistingDirectory);
  add_count_option(cmd, "--seed", 0, kMaxU64, [o](uint64_t v) { o->seed = v; },
                   "Random seed (default 1); job j runs seed + j");
  auto* ops = add_count_option(cmd, "--ops", 1, kMaxU64, [o](uint64_t v) { o->ops = v; },
                               "Number of operations (default 100000)");
  add_seconds_option(cmd, "--time", 0.1, kMaxSeconds, [o](double v) { o->seconds = v; },
                     "Run for this many seconds")
      ->excludes(ops);
  cmd->add_option("--caller", o->caller, "contract: only correct calls; hostile: misuse too")
      ->check(CLI::IsMember({"contract", "hostile"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for minimized findings")->capture_default_str();
  add_count_option(cmd, "--jobs", 1, 256, [o](uint64_t v) { o->jobs = static_cast<unsigned>(v); },
                   "Parallel runs (default 1)");
  add_table_memory_option(cmd, o->table_memory);
  cmd->callback([&action, o] { action = [o] { return run_check(*o); }; });
}

}  // namespace iommu::cli
