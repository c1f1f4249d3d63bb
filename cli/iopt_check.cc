#include "cli/iopt_check.h"

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "cli/command.h"
#include "cli/episodes.h"
#include "cli/finding_file.h"
#include "cli/progress.h"
#include "cli/text.h"
#include "conform/iopt_checker.h"
#include "conform/iopt_trace.h"
#include "conform/isolation.h"
#include "conform/registry.h"

namespace iommu::cli {
namespace {

constexpr unsigned kDomains = 3;

conform::DriverSource domain_source(const IoptCheckArgs& a) {
  std::string inner = a.driver.substr(5);
  if (inner.find(':') == std::string::npos) inner = "impl:" + inner;
  conform::DriverSource src;
  try {
    src = conform::resolve_driver(inner, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(fmt::format("driver '{}': {}", a.driver, e.what()));
  }
  const ref::DomainConfig& c = src.info.config;
  if (!(c.pgsize_bitmap & iopt::kPageSize) || c.ias < 32)
    throw UsageError(
        fmt::format("driver '{}': the storage maps 4 KiB pages below 2^32, and {} "
                    "has {}",
                    a.driver, src.info.name, ref::describe(c)));
  return src;
}

// Episode e of job j: its own seed, user memory layout and batch geometry.
conform::IoptScenario scenario(const conform::DriverSource& src, uint64_t seed) {
  conform::IoptScenario s;
  s.layout = iopt::UserMemory::scattered_layout(128, 1 + seed % 12, seed);
  s.config.batch_runs = 1 + seed % 8;
  s.config.pin_chunk = 1 + (seed >> 8) % 40;
  s.domains.assign(kDomains, src);
  return s;
}

// What an episode found: its first violation and the trace that reproduces it.
struct Found {
  uint64_t seed = 0;
  std::string violation{};
  std::string trace{};  // iopt trace text, its comment still to add; empty: the driver died
  std::string minimization{};
};

constexpr double kMinimizeSeconds = 60;

// Minimizes an episode's failing run and prints it as a trace; in the child process for
// isolated drivers, where a driver's crash during the replays ends only the child.
Found finding(const conform::IoptScenario& s, const conform::IoptCampaignResult& r,
              const std::string& driver, uint64_t seed, const std::atomic<bool>& interrupted) {
  const auto start = std::chrono::steady_clock::now();
  auto stop = [&] {
    return interrupted ||
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
               kMinimizeSeconds;
  };
  const conform::IoptFinding f =
      conform::minimize_iopt(s, r.trace, r.violations.front(), 20000, stop);
  conform::IoptTrace t = conform::iopt_trace_of(s, f.ops);
  t.driver = driver;
  t.seed = seed;
  return {seed, f.violation, conform::format_iopt_trace(t),
          f.minimized ? fmt::format("minimized from {} ops", r.trace.size())
                      : fmt::format("NOT fully minimized (time or budget ran out), {} ops of {}",
                                    f.ops.size(), r.trace.size())};
}

// One episode: in-process for impl: drivers, in a child process for the others, where a crash,
// an exit or a hang of the driver becomes the violation.
std::optional<Found> episode(const conform::DriverSource& src, const std::string& driver,
                             uint64_t seed, uint64_t ops, conform::CallerMode mode,
                             const std::atomic<bool>& interrupted, uint64_t* ran) {
  *ran = ops;
  if (!conform::runs_isolated(src.info)) {
    const conform::IoptScenario s = scenario(src, seed);
    const conform::IoptCampaignResult r = conform::iopt_campaign(seed, ops, s, mode);
    *ran = r.ops;
    if (r.violations.empty()) return std::nullopt;
    return finding(s, r, driver, seed, interrupted);
  }
  conform::IsolatedBody body = [&](const conform::DriverSource& watched,
                                   conform::IsolatedChild&) -> std::optional<conform::Violation> {
    const conform::IoptScenario s = scenario(watched, seed);
    const conform::IoptCampaignResult r = conform::iopt_campaign(seed, ops, s, mode);
    if (r.violations.empty()) return std::nullopt;
    Found f = finding(s, r, driver, seed, interrupted);
    // The child's finding travels in a Violation: its message, the trace and how it was made.
    return conform::Violation{
        .op = f.violation, .check = "iopt", .detail = f.minimization + "\n" + f.trace};
  };
  const conform::IsolatedRun run = conform::run_isolated(src, body, {});
  if (!run.violation) return std::nullopt;
  if (run.violation->check != "iopt")  // the driver crashed, exited or hung: no trace
    return Found{.seed = seed, .violation = run.violation->message()};
  const std::string& d = run.violation->detail;
  const size_t nl = d.find('\n');
  return Found{.seed = seed,
               .violation = run.violation->op,
               .trace = d.substr(nl + 1),
               .minimization = d.substr(0, nl)};
}

ResultFinding report(const IoptCheckArgs& a, const Found& f) {
  fmt::print("VIOLATION: {}\n", printable(f.violation));
  const std::string caller = a.hostile ? "hostile" : "contract";
  ResultFinding r{.signature = conform::iopt_rule(f.violation),
                  .check = conform::iopt_rule(f.violation),
                  .message = printable(f.violation),
                  // "minimized from N ops", or "NOT fully minimized ..." (finding() above)
                  .minimized = f.minimization.rfind("minimized", 0) == 0,
                  .seed = f.seed};
  if (f.trace.empty()) {  // a crash, exit or hang of the driver in an isolated episode
    fmt::print(
        "the driver ended the episode (seed {}) before a trace could be made; rerun with "
        "--seed {} --ops {} to see it again\n",
        f.seed, a.seed, a.ops.value_or(100000));
    return r;
  }
  const conform::IoptTrace t = conform::parse_iopt_trace(f.trace, "the episode's trace");
  auto comment = [&](const std::string& path) {
    return fmt::format(
        "found by check --driver {} --caller {} --seed {} (episode seed {})\n{}\n{}\n"
        "replay: iommucheck replay {}",
        a.driver, caller, a.seed, f.seed, printable(f.violation), f.minimization, path);
  };
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  try {
    const std::string path = conform::create_trace_file(
        a.out,
        finding_stem({.out = a.out, .driver = a.driver, .caller = caller},
                     conform::iopt_rule(f.violation), f.seed),
        [&](const std::string& p) { return conform::format_iopt_trace(t, comment(p)); });
    fmt::print("trace ({} ops): {}\n", t.ops.size(), path);
    r.trace = path;
  } catch (const conform::TraceError& e) {
    fmt::print("trace ({} ops) not written ({}); here it is:\n{}", t.ops.size(), e.what(),
               conform::format_iopt_trace(t, comment("FILE")));
  }
  r.trace_ops = t.ops.size();
  return r;
}

std::string write_mutant_trace(const std::string& out, iopt::Mutant m,
                               const conform::IoptScenario& s, const conform::IoptFinding& f) {
  conform::IoptTrace t = conform::iopt_trace_of(s, f.ops);
  t.driver = "iopt:arm-64-lpae-s1-4k";
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  try {
    const std::string path = conform::create_trace_file(
        out, std::string(iopt::mutant_name(m)), [&](const std::string& p) {
          return conform::format_iopt_trace(
              t, fmt::format("{} killed by mutants --driver-source iopt\n{}\nreplay: iommucheck "
                             "replay {}",
                             iopt::mutant_name(m), f.violation, p));
        });
    fmt::print("    trace: {}\n", path);
    return path;
  } catch (const conform::TraceError& e) {
    throw UsageError(e.what());
  }
}

}  // namespace

bool is_iopt_driver(const std::string& name) { return name.rfind("iopt:", 0) == 0; }

int run_iopt_check(const IoptCheckArgs& a, Results& results) {
  if (const std::string why = conform::driver_name_problem(a.driver); !why.empty())
    throw UsageError(fmt::format("--driver: {}", printable(why)));
  const conform::DriverSource src = domain_source(a);
  const auto mode = a.hostile ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  const EpisodeFn<Found> run = [&](uint64_t seed, uint64_t, uint64_t n,
                                   const std::atomic<bool>& interrupted) {
    Episode<Found> r;
    r.finding = episode(src, a.driver, seed, n, mode, interrupted, &r.ops);
    return r;
  };
  return run_episodes<Found>(
      a.driver, {.seed = a.seed, .ops = a.ops, .seconds = a.seconds, .jobs = a.jobs}, run,
      [&](Found& f) { return report(a, f); }, results,
      fmt::format("storage over {} domains", kDomains));
}

int run_iopt_replay(const std::string& path, const std::optional<std::string>& driver,
                    const std::string& kernel) {
  if (driver && !is_iopt_driver(*driver))
    throw UsageError(
        fmt::format("{}: an iopt trace replays on an iopt: driver, not '{}'", path, *driver));
  conform::IoptTrace trace;
  try {
    trace = conform::read_iopt_trace_file(path);
  } catch (const conform::TraceError& e) {
    throw UsageError(e.what());
  }
  const std::string name = driver.value_or(trace.driver.value_or(""));
  if (name.empty())
    throw UsageError(fmt::format("{}: the trace names no driver. pass --driver iopt:FORMAT", path));
  IoptCheckArgs args;
  args.driver = name;
  args.kernel = kernel;
  const conform::DriverSource src = domain_source(args);
  const conform::IoptScenario s = conform::iopt_scenario_of(trace, src);
  auto show = [](size_t i, const conform::IoptOp& op, int want, int got) {
    fmt::print("{:>5} {}\n      ref={} storage={}\n", i + 1, conform::format_iopt_op(op), want,
               got);
    std::fflush(stdout);
  };
  std::optional<std::string> violation;
  if (!conform::runs_isolated(src.info)) {
    const conform::IoptReplay r = conform::replay_iopt(s, trace.ops, show);
    if (!r.violations.empty()) violation = r.violations.front();
  } else {
    conform::IsolatedBody body = [&](const conform::DriverSource& watched,
                                     conform::IsolatedChild&) -> std::optional<conform::Violation> {
      const conform::IoptReplay r =
          conform::replay_iopt(conform::iopt_scenario_of(trace, watched), trace.ops, show);
      if (r.violations.empty()) return std::nullopt;
      return conform::Violation{.op = r.violations.front(), .check = "iopt", .detail = {}};
    };
    try {
      const conform::IsolatedRun run = conform::run_isolated(src, body, {});
      if (run.violation)
        violation = run.violation->check == "iopt" ? run.violation->op : run.violation->message();
    } catch (const conform::IsolationError& e) {
      throw UsageError(e.what());
    }
  }
  if (violation) {
    fmt::print("VIOLATION: {}\n", printable(*violation));
    return kExitViolation;
  }
  fmt::print("no violation in {} ops\n", trace.ops.size());
  return kExitOk;
}

int run_iopt_mutants(const std::string& only, double seconds_per, uint64_t seed,
                     const std::string& out, Results& results) {
  std::string names;
  bool known = only.empty();
  for (iopt::Mutant m : iopt::kAllMutants) {
    names += (names.empty() ? "" : ", ") + std::string(iopt::mutant_name(m));
    known |= iopt::mutant_name(m) == only;
  }
  if (!known)
    throw UsageError(fmt::format("--only {}: no such mutant; valid names: {}", only, names));
  size_t run = 0, killed = 0;
  fmt::print("{:<26} {:<9} {:<12} {:>9} {:>8}  {}\n", "mutant", "result", "check", "seconds", "ops",
             "models");
  Progress progress("mutants iopt", only.empty() ? std::size(iopt::kAllMutants) : 1, std::nullopt,
                    "mutants");
  for (iopt::Mutant m : iopt::kAllMutants) {
    if (!only.empty() && iopt::mutant_name(m) != only) continue;
    progress.update(run, fmt::format("{} on iopt:arm-64-lpae-s1-4k", iopt::mutant_name(m)));
    std::pair<conform::IoptScenario, conform::IoptFinding> f;
    const conform::MutantKill k = conform::iopt_mutant_kill(m, seconds_per, seed, &f);
    ++run;
    killed += k.killed;
    fmt::print("{:<26} {:<9} {:<12} {:>9.2f} {:>8}  {}\n", iopt::mutant_name(m),
               k.killed ? "killed" : "SURVIVED", k.killed ? k.check : "-", k.seconds, k.ops,
               iopt::mutant_description(m));
    std::string trace;
    if (k.killed) {
      fmt::print("    {} (minimized to {} ops)\n", k.violation, k.trace_ops);
      if (!out.empty()) trace = write_mutant_trace(out, m, f.first, f.second);
    }
    results.cases.push_back(mutant_case(std::string(iopt::mutant_name(m)),
                                        std::string(iopt::mutant_description(m)), k, false, trace));
  }
  progress.finish();
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  results.summary = mutants_summary(run, killed);
  return killed == run ? kExitOk : kExitViolation;
}

}  // namespace iommu::cli
