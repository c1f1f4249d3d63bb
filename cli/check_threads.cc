#include "cli/check_threads.h"

#include <fmt/core.h>

#include <cstdio>

#include "cli/command.h"
#include "cli/finding_file.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/text.h"
#include "conform/signature.h"

namespace iommu::cli {
namespace {

// A concurrent finding as `check` writes every finding: its trace is every thread's ops round
// by round, thread 0 first, which `replay` runs serially (docs/CHECKER.md).
conform::Finding as_finding(const conform::ConcurrentFinding& f, unsigned threads) {
  std::string who = f.thread
                        ? fmt::format("thread {} of {}: its ops are trace ops {}, {}, ...",
                                      *f.thread, threads, *f.thread + 1, *f.thread + 1 + threads)
                        : fmt::format("the whole domain after {} threads' ops", threads);
  return {.violation = f.violation,
          .minimized = f.violation,
          .signature = conform::finding_signature(f.violation),
          .ops = f.trace,
          .episode_seed = f.episode_seed,
          .original_ops = f.trace.size(),
          .minimize_tests = 0,
          .cut_short = fmt::format("a concurrent episode: check --threads {} --seed {} reruns "
                                   "its op streams; {}; replay runs them serially, so a race "
                                   "may not happen again",
                                   threads, f.episode_seed, who)};
}

}  // namespace

void check_threads_args(const ThreadsArgs& a, const conform::DriverSource& src) {
  if (!src.info.concurrent)
    throw UsageError(
        fmt::format("--threads {}: {} does not declare concurrent calls on disjoint "
                    "ranges (IOMMUCHECK_DRIVER_CONCURRENT, docs/PLUGINS.md), so "
                    "one domain cannot be driven from several threads",
                    a.threads, printable(src.info.name)));
  if (a.ops && *a.ops < a.threads)
    throw UsageError(
        fmt::format("--ops {} is fewer than --threads {}: each thread needs at "
                    "least one op",
                    *a.ops, a.threads));
}

int run_threaded_check(const ThreadsArgs& a, const conform::DriverSource& src, Results& results) {
  check_threads_args(a, src);
  const FindingTarget target{a.out, a.driver, "contract", std::nullopt};
  check_finding_target(target, src);
  InterruptGuard interrupt;
  const uint64_t ops = a.ops.value_or(a.seconds ? 0 : 100000);
  Progress progress(fmt::format("check {} --threads {}", a.driver, a.threads), ops, a.seconds);
  conform::ConcurrentCampaignOptions o{.threads = a.threads, .seed = a.seed, .ops = ops};
  o.seconds = a.seconds.value_or(0);
  o.check.table_memory = a.table_memory;
  o.keep_going = a.keep_going;
  o.isolate = conform::runs_isolated(src.info);
  o.call_timeout = a.call_timeout;
  o.interrupt = &interrupt.flag();
  o.progress = [&](uint64_t done) { progress.update(done); };
  conform::ConcurrentReport r;
  try {
    r = conform::run_concurrent_campaign(src, o);
  } catch (const conform::ModelLimitError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(e.what());
  }
  progress.finish();
  ResultCase c{.name = fmt::format("threads={}", a.threads),
               .seconds = r.seconds,
               .fields = {{"ops", r.ops}, {"episodes", r.episodes}}};
  for (const conform::ConcurrentFinding& f : r.findings) {
    c.findings.push_back(report_finding(target, src, as_finding(f, a.threads), f.episode_seed));
    const auto n = r.occurrences.find(c.findings.back().signature);
    if (n != r.occurrences.end()) c.findings.back().occurrences = n->second;
  }
  for (const auto& [sig, n] : r.occurrences) fmt::print("found {} time(s): {}\n", n, sig);
  c.log.push_back(fmt::format(
      "races: {} table install(s) and {} split(s) lost their race (a table freed by the "
      "call that allocated it) in {} episode(s)",
      r.races.installs_lost, r.races.splits_lost, r.episodes));
  fmt::print("{}\n", c.log.back());
  if (!r.findings.empty()) {
    c.verdict = Verdict::kFail;
    c.message = c.findings.front().message;
  }
  results.cases.push_back(std::move(c));
  const bool interrupted = interrupt.flag().load();
  if (interrupted) fmt::print("interrupted: the counts cover the ops run until then\n");
  fmt::print("summary: driver={} threads={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n",
             printable(a.driver), a.threads, r.ops, r.findings.size(), r.seconds,
             r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0.0);
  std::fflush(stdout);
  results.summary = {{"driver", a.driver},   {"threads", uint64_t{a.threads}},
                     {"ops", r.ops},         {"violations", uint64_t{r.findings.size()}},
                     {"seconds", r.seconds}, {"interrupted", interrupted}};
  if (!r.findings.empty()) return kExitViolation;
  return interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace iommu::cli
