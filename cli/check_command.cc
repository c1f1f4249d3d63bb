#include <fmt/core.h>

#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/check_domain.h"
#include "cli/check_threads.h"
#include "cli/command.h"
#include "cli/coverage_option.h"
#include "cli/dma_check.h"
#include "cli/finding_file.h"
#include "cli/interrupt.h"
#include "cli/iopt_check.h"
#include "cli/progress.h"
#include "cli/results.h"
#include "cli/report.h"
#include "cli/validate.h"
#include "conform/baseline.h"
#include "conform/campaign.h"
#include "conform/model_limit.h"
#include "conform/registry.h"
#include "conform/trace.h"
#include "conform/virtio_driver.h"

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
  unsigned threads = 1;  // > 1: concurrent campaigns (cli/check_threads.h)
  DomainArgs domain;
  bool keep_going = false;     // the default is on in --time campaigns
  bool stop_at_first = false;  // ... unless this says otherwise
  double call_timeout = 5;
  uint64_t table_memory = 0;  // 0: the model's default
  std::string baseline_path;
  std::string coverage_dir;
  conform::Baseline baseline;  // loaded by run_check
  std::string flush_queue;     // dma: drivers: per-cpu or single (implies lazy)
  bool invalidation_given = false;
  ResultsOptions results;
  std::string report_dir;
  Report* report = nullptr;  // run_check's, for --report
};

// Job j runs seed + j; the op budget is split between jobs.
conform::CampaignOptions job_options(const CheckArgs& a, unsigned job,
                                     const std::atomic<bool>& stop,
                                     const std::atomic<bool>& interrupt) {
  conform::CampaignOptions o;
  o.seed = a.seed + job;
  o.mode = a.caller == "hostile" ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  o.stop = &stop;
  o.interrupt = &interrupt;
  // A baseline's known findings must not end the run before a new one shows.
  o.keep_going = a.keep_going || ((a.seconds.has_value() || !a.baseline_path.empty()) &&
                                  !a.stop_at_first);
  o.call_timeout = a.call_timeout;
  o.check.table_memory = a.table_memory;
  // Nobody reads a known finding's trace, and minimizing one can cost more than the campaign.
  if (!a.baseline_path.empty())
    o.known = [&a](const std::string& signature) {
      return a.baseline.find(a.driver, signature) != nullptr;
    };
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

// What --report shows of a run and its domains (cli/report.h).
void report_config(Report& r, const CheckArgs& a) {
  r.config("driver", a.driver);
  if (!a.kernel.empty()) r.config("kernel", a.kernel);
  r.config("caller", a.caller);
  r.config("seed", fmt::format("{} (job j runs seed + j)", a.seed));
  r.config("budget", a.seconds ? fmt::format("{} s", *a.seconds)
                               : fmt::format("{} ops", a.ops.value_or(100000)));
  r.config("jobs", fmt::format("{}", a.jobs));
  r.config("IOMMU model", a.domain.matrix ? "every one that fits (--matrix)"
                                          : a.domain.iommu.empty() ? "the format's default"
                                                                   : a.domain.iommu);
  r.config("invalidation", a.domain.matrix ? "strict and lazy" : a.domain.invalidation);
  r.config("non-present caching", a.domain.np_caching ? "on" : "off");
  const bool keep_going =
      a.keep_going || ((a.seconds || !a.baseline_path.empty()) && !a.stop_at_first);
  r.config("after a finding", keep_going ? "minimize it and go on" : "stop");
  if (!a.baseline_path.empty()) r.config("baseline", a.baseline_path);
  r.config("findings directory (--out)", a.out);
}

// The summary line's figures, the coverage, and the page.
void write_report(Report& r, const CheckArgs& a, const DomainTally& total, bool interrupted) {
  r.summary("ops", fmt::format("{}", total.ops));
  r.summary("violations", fmt::format("{}", total.violations));
  if (!a.baseline_path.empty()) r.summary("known", fmt::format("{}", total.known));
  r.summary("seconds", fmt::format("{:.2f}", total.seconds));
  r.summary("ops per second", fmt::format("{:.0f}", total.ops_per_s));
  if (interrupted) r.summary("interrupted", "yes: the counts cover the ops run until then");
  r.coverage(a.coverage_dir);
  r.write();
}

void report_domain(const CheckArgs& a, const DomainRun& run,
                   const std::vector<conform::CampaignReport>& reports) {
  if (!a.report->on()) return;  // a replay per finding is not free
  a.report->config("domain", run.label);
  uint64_t ops = 0;
  for (const conform::CampaignReport& r : reports) ops += r.ops;
  a.report->sample(ops);
  for (unsigned j = 0; j < reports.size(); j++) {
    a.report->add_op_mix(reports[j].op_mix);
    for (const conform::Finding& f : reports[j].findings) {
      ReportFinding r =
          report_finding_data({a.out, a.driver, a.caller, run.iommu}, run.source, f, a.seed + j);
      r.domain = run.label;
      r.known = a.baseline.find(a.driver, f.signature) != nullptr;
      a.report->add(std::move(r));
    }
  }
}

// What every job returned, merged: distinct findings in job order (a signature found by two
// jobs is minimized by the first to claim it), occurrences summed.
struct Merged {
  uint64_t ops = 0;
  double ops_per_s = 0;
  std::vector<std::pair<const conform::Finding*, uint64_t>> findings;  // with the job's seed
  std::map<std::string, uint64_t> occurrences;
};

Merged merge(const CheckArgs& a, const std::vector<conform::CampaignReport>& reports) {
  Merged m;
  for (unsigned j = 0; j < reports.size(); j++) {
    const conform::CampaignReport& r = reports[j];
    m.ops += r.ops;
    // Checking time only: minimization does not run ops.
    if (r.checking_seconds > 0) m.ops_per_s += static_cast<double>(r.ops) / r.checking_seconds;
    for (const conform::Finding& f : r.findings) m.findings.emplace_back(&f, a.seed + j);
    for (const auto& [sig, n] : r.occurrences) m.occurrences[sig] += n;
  }
  return m;
}

// Prints the findings and their counts; the summary is run_check's, after every domain.
// A finding the baseline knows is listed as known and does not count as a violation.
DomainTally report(const CheckArgs& a, const DomainRun& run, const Merged& m, double seconds,
                   ResultCase& c) {
  DomainTally t{.ops = m.ops, .seconds = seconds, .ops_per_s = m.ops_per_s};
  for (const auto& [f, seed] : m.findings) {
    ResultFinding r;
    if (const conform::BaselineEntry* e = a.baseline.find(a.driver, f->signature)) {
      fmt::print("known: {} (baseline {}:{})\n", f->signature, a.baseline.path(), e->line);
      t.known++;
      r = result_finding(*f, seed);
      r.known = true;
    } else {
      r = report_finding({a.out, a.driver, a.caller, run.iommu}, run.source, *f, seed);
      t.violations++;
    }
    r.occurrences = m.occurrences.count(f->signature) ? m.occurrences.at(f->signature) : 1;
    c.findings.push_back(std::move(r));
  }
  for (const auto& [sig, n] : m.occurrences) {
    const bool known = a.baseline.find(a.driver, sig) != nullptr;
    fmt::print("found {} time(s){}: {}\n", n, known ? " (known)" : "", sig);
  }
  return t;
}

// A domain's case in the CI formats: it fails on a finding the baseline does not know.
ResultCase domain_case(const DomainRun& run, const DomainTally& t,
                       std::vector<ResultFinding> findings) {
  ResultCase c{
      .name = run.label,
      .seconds = t.seconds,
      .findings = std::move(findings),
      .fields = {
          {"iommu", std::string(conform::iommu_name(run.iommu))},
          {"invalidation",
           run.source.info.config.invalidation == ref::Invalidation::kLazy ? "lazy" : "strict"},
          {"np_caching", run.source.info.config.np_caching},
          {"ops", t.ops},
          {"ops_per_s", t.ops_per_s},
          {"violations", t.violations},
          {"known", t.known}}};
  if (t.violations == 0) return c;
  c.verdict = Verdict::kFail;
  for (const ResultFinding& f : c.findings)
    if (!f.known) {
      c.message = t.violations == 1
                      ? f.message
                      : fmt::format("{} violations; the first: {}", t.violations, f.message);
      break;
    }
  return c;
}

DomainTally run_domain(const CheckArgs& all, const DomainRun& run, const DomainBudget& budget,
                       const std::atomic<bool>& interrupted, Results& results) {
  CheckArgs a = all;
  a.ops = budget.ops;
  a.seconds = budget.seconds;
  a.out = budget.out;
  const conform::DriverSource& src = run.source;
  check_finding_target({a.out, a.driver, a.caller, run.iommu}, src);  // a matrix's subdirectory
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<conform::CampaignReport> reports(a.jobs);
  std::vector<uint64_t> last(a.jobs, 0);
  std::mutex mu;
  std::exception_ptr error;
  conform::SignatureSet seen;
  a.report->start_domain();
  const std::string what = a.domain.matrix ? fmt::format("{} [{}]", a.driver, run.label) : a.driver;
  Progress progress("check " + what, a.ops.value_or(a.seconds ? 0 : 100000), a.seconds);
  auto job = [&](unsigned j) {
    conform::CampaignOptions o = job_options(a, j, stop, interrupted);
    o.check.iommu = run.iommu;
    o.isolate = conform::runs_isolated(src.info);
    o.seen = &seen;
    o.progress = [&, j](uint64_t n) {
      done += n - last[j];
      last[j] = n;
      std::lock_guard lock(mu);
      progress.update(done);
      a.report->sample(done);
    };
    o.minimize_progress = [&](const conform::MinimizeProgress& p) {
      std::lock_guard lock(mu);
      progress.status(fmt::format("minimizing `{}`: {} replays, {} ops", p.signature, p.tests,
                                  p.ops));
    };
    try {
      reports[j] = conform::run_campaign(src, o);
      if (!reports[j].findings.empty() && !o.keep_going) stop = true;
    } catch (...) {
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; j++) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();
  report_domain(a, run, reports);
  const Merged merged = merge(a, reports);
  if (error) {
    // A job that stopped without a verdict (a model limit, say) does not hide another's finding.
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      if (merged.findings.empty()) {
        if (dynamic_cast<const conform::ModelLimitError*>(&e)) throw;
        throw UsageError(e.what());
      }
      fmt::print(stderr, "iommucheck: another job stopped without a verdict: {}\n", e.what());
    } catch (...) {
      throw UsageError("a campaign job stopped on an exception that is not a std::exception");
    }
  }
  ResultCase c;
  const DomainTally t = report(a, run, merged, progress.seconds(), c);
  results.cases.push_back(domain_case(run, t, std::move(c.findings)));
  return t;
}

// The storage layer has its own campaign and none of the page-table domain's options.
int run_iopt(const CheckArgs& a, Results& results) {
  if (a.domain.matrix || !a.domain.iommu.empty() || a.domain.invalidation != "strict" ||
      a.domain.np_caching || !a.baseline_path.empty() || a.table_memory || a.threads > 1)
    throw UsageError(fmt::format("driver '{}': --matrix, --iommu, --invalidation, --np-caching, "
                                 "--baseline, --table-memory and --threads do not apply to iopt: "
                                 "drivers",
                                 a.driver));
  return run_iopt_check({.driver = a.driver,
                         .kernel = a.kernel,
                         .seed = a.seed,
                         .ops = a.ops,
                         .seconds = a.seconds,
                         .hostile = a.caller == "hostile",
                         .out = a.out,
                         .jobs = a.jobs},
                        results);
}

// The DMA layer picks its invalidation mode with --invalidation and --flush-queue, and has
// none of the page-table domain's other options.
int run_dma(const CheckArgs& a, Results& results) {
  if (!a.domain.iommu.empty() || a.domain.np_caching || !a.baseline_path.empty() ||
      a.table_memory || a.threads > 1)
    throw UsageError(fmt::format("driver '{}': --iommu, --np-caching, --baseline, --table-memory "
                                 "and --threads do not apply to dma: drivers",
                                 a.driver));
  const bool strict = a.domain.invalidation == "strict";
  if (!a.flush_queue.empty() && strict && a.invalidation_given)
    throw UsageError("--flush-queue needs lazy invalidation: drop --invalidation strict");
  std::vector<conform::DmaMode> modes;
  if (a.domain.matrix) {
    modes = {conform::DmaMode::kStrict, conform::DmaMode::kPerCpu, conform::DmaMode::kSingle};
  } else if (!a.flush_queue.empty() || !strict) {
    modes = {a.flush_queue == "single" ? conform::DmaMode::kSingle : conform::DmaMode::kPerCpu};
  } else {
    modes = {conform::DmaMode::kStrict};
  }
  return run_dma_check({.driver = a.driver,
                        .modes = modes,
                        .seed = a.seed,
                        .ops = a.ops,
                        .seconds = a.seconds,
                        .hostile = a.caller == "hostile",
                        .out = a.out,
                        .jobs = a.jobs},
                       results);
}

int run_threads(const CheckArgs& a, const conform::DriverSource& src, Results& results) {
  if (a.caller != "contract")
    throw UsageError("--threads runs correct calls only: --caller hostile is not supported");
  if (!a.baseline_path.empty())
    throw UsageError("--threads does not take a --baseline: concurrent findings have their own "
                     "signatures");
  if (a.table_memory) check_table_memory(a.table_memory, src.info.config.oas);
  return run_threaded_check({.driver = a.driver,
                             .threads = a.threads,
                             .seed = a.seed,
                             .ops = a.ops,
                             .seconds = a.seconds,
                             .out = a.out,
                             .keep_going = a.keep_going || (a.seconds && !a.stop_at_first),
                             .call_timeout = a.call_timeout,
                             .table_memory = a.table_memory},
                            src, results);
}

int check_driver(CheckArgs& a, Results& results) {
  if (is_iopt_driver(a.driver)) return run_iopt(a, results);
  if (is_dma_driver(a.driver)) return run_dma(a, results);
  if (!a.flush_queue.empty()) throw UsageError("--flush-queue: only dma: drivers have one");
  if (!a.baseline_path.empty()) {
    try {
      a.baseline = conform::Baseline::load(a.baseline_path);
    } catch (const conform::BaselineError& e) {
      throw UsageError(e.what());
    }
  }
  start_coverage(a.coverage_dir, a.driver);
  Report report(a.report_dir, "check " + a.driver);
  report_config(report, a);
  a.report = &report;
  conform::DriverSource src;
  try {
    src = conform::resolve_driver(a.driver, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
  if (conform::virtio_requests(a.driver) && (a.domain.matrix || !a.domain.iommu.empty()))
    throw UsageError(fmt::format("driver '{}' is its own IOMMU (docs/VIRTIO.md): --iommu and "
                                 "--matrix do not apply",
                                 a.driver));
  if (a.threads > 1) return run_threads(a, src, results);
  check_args(a, src);
  CoverageSampler coverage(report, !a.coverage_dir.empty());
  InterruptGuard interrupt;
  const DomainTally total =
      run_domains(domain_runs(src, a.domain), {.ops = a.ops, .seconds = a.seconds, .out = a.out},
                  a.jobs, [&](const DomainRun& run, const DomainBudget& b) {
                    return run_domain(a, run, b, interrupt.flag(), results);
                  });
  const bool interrupted = interrupt.flag().load();
  finish_coverage(a.coverage_dir);
  coverage.finish();
  if (total.ops == 0 && total.violations == 0 && !interrupted)
    throw UsageError("no op ran, so nothing was checked: give the campaign more --time");
  if (interrupted) fmt::print("interrupted: the counts cover the ops run until then\n");
  write_report(report, a, total, interrupted);
  const std::string known =
      a.baseline_path.empty() ? "" : fmt::format(" known={}", total.known);
  fmt::print("summary: driver={} ops={} violations={}{} seconds={:.2f} ops_per_s={:.0f}\n",
             a.driver, total.ops, total.violations, known, total.seconds, total.ops_per_s);
  results.summary = {
      {"driver", a.driver},        {"ops", total.ops},         {"violations", total.violations},
      {"known", total.known},      {"seconds", total.seconds}, {"ops_per_s", total.ops_per_s},
      {"interrupted", interrupted}};
  if (total.violations != 0) return kExitViolation;
  return interrupted ? kExitInterrupted : kExitOk;
}

// What the run was asked to do, for the CI formats: every option that shapes it.
Fields check_config(const CheckArgs& a) {
  Fields f{{"driver", a.driver}, {"seed", a.seed}, {"caller", a.caller}};
  if (a.ops) f.emplace_back("ops", *a.ops);
  if (a.seconds) f.emplace_back("time", *a.seconds);
  if (!a.ops && !a.seconds) f.emplace_back("ops", uint64_t{100000});
  f.insert(f.end(), {{"jobs", uint64_t{a.jobs}},
                     {"threads", uint64_t{a.threads}},
                     {"iommu", a.domain.iommu},
                     {"invalidation", a.domain.invalidation},
                     {"np_caching", a.domain.np_caching},
                     {"matrix", a.domain.matrix},
                     {"flush_queue", a.flush_queue},
                     {"keep_going", a.keep_going},
                     {"stop_at_first", a.stop_at_first},
                     {"baseline", a.baseline_path},
                     {"kernel", a.kernel},
                     {"out", a.out}});
  return f;
}

int run_check(CheckArgs& a) {
  ResultsOutput output(a.results);
  Results results{.command = "check", .suite = "check " + a.driver, .config = check_config(a)};
  results.exit_code = check_driver(a, results);
  return output.write(results);
}

}  // namespace

void add_check_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand("check", "Randomized differential campaign of a driver against "
                                          "the reference model and the hardware model");
  cmd->add_option("--driver", o->driver,
                  "impl:FORMAT, linux:FORMAT, plugin:PATH.so, iopt:FORMAT or dma:FORMAT")
      ->required();
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
  auto* jobs = add_count_option(cmd, "--jobs", 1, 256,
                               [o](uint64_t v) { o->jobs = static_cast<unsigned>(v); },
                               "Parallel runs (default 1)");
  auto* threads = add_count_option(
      cmd, "--threads", 1, 64, [o](uint64_t v) { o->threads = static_cast<unsigned>(v); },
      "Threads mapping and unmapping disjoint ranges of one domain at once (default 1: the "
      "serial checker); the driver must declare concurrent calls");
  threads->excludes(jobs);
  add_table_memory_option(cmd, o->table_memory);
  auto* iommu = cmd->add_option("--iommu", o->domain.iommu,
                                "IOMMU model: smmuv3, smmuv3-norange, smmuv2, vtd, amd or riscv "
                                "(default: riscv for riscv-sv* formats, SMMUv3 for arm-64-lpae "
                                "formats, SMMUv2 otherwise, VT-d with --np-caching)");
  auto* inv = cmd->add_option("--invalidation", o->domain.invalidation,
                              "strict: unmap invalidates; lazy: a flush queue, stale until "
                              "flush_iotlb_all")
                  ->check(CLI::IsMember({"strict", "lazy"}))
                  ->capture_default_str();
  cmd->add_option("--flush-queue", o->flush_queue,
                  "dma: drivers: the lazy mode's flush queue, per-cpu or single (implies "
                  "--invalidation lazy)")
      ->check(CLI::IsMember({"per-cpu", "single"}));
  auto* np = cmd->add_flag("--np-caching", o->domain.np_caching,
                           "The IOMMU caches non-present entries (vtd or amd only)");
  cmd->add_flag("--matrix", o->domain.matrix,
                "Run every combination of IOMMU model, invalidation and non-present caching "
                "that fits the driver, the budget shared between them")
      ->excludes(iommu)
      ->excludes(inv)
      ->excludes(np)
      ->excludes(threads);
  // Concurrent episodes model no caches (docs/CHECKER.md): the domain options do not apply.
  threads->excludes(iommu)->excludes(inv)->excludes(np);
  auto* keep = cmd->add_flag("--keep-going", o->keep_going,
                             "After a finding, minimize it and go on, counting each distinct "
                             "finding (the default in --time campaigns)");
  cmd->add_flag("--stop-at-first", o->stop_at_first, "Stop at the first finding")->excludes(keep);
  cmd->add_option("--baseline", o->baseline_path,
                  "Known findings (docs/LINUX.md): listed as known, they do not fail the run; "
                  "implies --keep-going");
  cmd->add_option("--call-timeout", o->call_timeout,
                  "Seconds one driver call may take in an isolated (plugin) driver before it "
                  "counts as a hang")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  add_report_option(cmd, o->report_dir);
  add_coverage_option(cmd, o->coverage_dir);
  add_results_options(cmd, o->results);
  cmd->callback([&action, o, inv] {
    o->invalidation_given = inv->count() > 0;
    if (!o->report_dir.empty() &&
        (is_iopt_driver(o->driver) || is_dma_driver(o->driver) || o->threads > 1))
      throw UsageError("--report: the campaigns of iopt: and dma: drivers and of --threads are "
                       "not reported; it reports the page-table campaign");
    action = [o] { return run_check(*o); };
  });
}

}  // namespace iommu::cli
