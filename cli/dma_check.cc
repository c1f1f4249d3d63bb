#include "cli/dma_check.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "cli/episodes.h"
#include "cli/progress.h"
#include "cli/text.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

std::string format_of(const std::string& driver) {
  const std::string format = driver.substr(4);
  if (format.find(':') != std::string::npos)
    throw UsageError(
        fmt::format("driver '{}': the DMA layer runs over impl's page tables only: "
                    "dma:FORMAT with an impl format, e.g. dma:arm-64-lpae-s1-4k",
                    driver));
  try {
    conform::resolve_driver("impl:" + format);
  } catch (const conform::DriverError& e) {
    throw UsageError(fmt::format("driver '{}': {}", driver, e.what()));
  }
  return format;
}

struct Found {
  conform::DmaTrace trace;
  conform::DmaViolation violation;
  uint64_t seed = 0;
};

ResultFinding report(const DmaCheckArgs& a, Found f) {
  fmt::print("VIOLATION: {}\n", printable(f.violation.message()));
  conform::DmaTrace small = conform::minimize_dma_trace(f.trace, f.violation.rule);
  const conform::DmaRunResult again = conform::run_dma_trace(small);
  if (!again.violation) small = f.trace;  // never hand out a trace that does not fail
  const conform::DmaViolation& v = again.violation ? *again.violation : f.violation;
  small.comment =
      fmt::format("{}\nepisode seed {}; replay: iommucheck replay FILE", v.message(), f.seed);
  std::string name =
      fmt::format("{}-{}-{}-seed{}.trace", a.driver, conform::dma_mode_name(f.trace.scenario.mode),
                  a.hostile ? "hostile" : "contract", f.seed);
  std::replace(name.begin(), name.end(), ':', '_');
  const std::filesystem::path path = std::filesystem::path(a.out) / name;
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  std::ofstream file(path);
  file << conform::format_dma_trace(small);
  ResultFinding r{.signature = v.rule,
                  .check = v.rule,
                  .message = printable(v.message()),
                  .trace = path.string(),
                  .trace_ops = small.ops.size(),
                  .minimized = again.violation.has_value(),
                  .seed = f.seed};
  if (!file) {
    fmt::print("the finding could not be written to {}; here it is:\n{}", path.string(),
               conform::format_dma_trace(small));
    r.trace.clear();
    return r;
  }
  if (again.violation)
    fmt::print("finding (minimized to {} ops): {}\n", small.ops.size(), path.string());
  else  // a violation that depends on more than the ops (it should not happen): kept whole
    fmt::print("finding (NOT minimized: the shorter trace did not fail again): {}\n",
               path.string());
  return r;
}

// The case's name: the invalidation modes run, e.g. "strict per-cpu single".
std::string modes_name(const std::vector<conform::DmaMode>& modes) {
  std::string name;
  for (conform::DmaMode m : modes)
    name += (name.empty() ? "" : " ") + std::string(conform::dma_mode_name(m));
  return name;
}

}  // namespace

bool is_dma_driver(const std::string& name) { return name.rfind("dma:", 0) == 0; }

int run_dma_check(const DmaCheckArgs& a, Results& results) {
  const std::string format = format_of(a.driver);
  const auto caller = a.hostile ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  const EpisodeFn<Found> run = [&](uint64_t seed, uint64_t e, uint64_t n,
                                   const std::atomic<bool>&) {
    const conform::DmaMode mode = a.modes[e % a.modes.size()];
    Found f{.trace = conform::generate_dma_trace(conform::dma_scenario(format, mode, caller, seed),
                                                 seed, n),
            .violation = {},
            .seed = seed};
    const conform::DmaRunResult r = conform::run_dma_trace(f.trace);
    Episode<Found> out{.ops = r.ops, .finding = std::nullopt};
    if (r.violation) {
      f.violation = *r.violation;
      out.finding = std::move(f);
    }
    return out;
  };
  return run_episodes<Found>(
      a.driver, {.seed = a.seed, .ops = a.ops, .seconds = a.seconds, .jobs = a.jobs}, run,
      [&](Found& f) { return report(a, std::move(f)); }, results, modes_name(a.modes));
}

bool is_dma_trace_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return in && conform::is_dma_trace(text.str());
}

int run_dma_replay(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  conform::DmaTrace t;
  try {
    t = conform::parse_dma_trace(text.str(), path);
    format_of("dma:" + t.scenario.format);
  } catch (const conform::TraceError& e) {
    throw UsageError(e.what());
  }
  const conform::DmaRunResult r =
      conform::run_dma_trace(t, [&](size_t i, const std::string& outcome) {
        fmt::print("{:>5} {}\n      {}\n", i + 1, conform::format_dma_op(t.ops[i]), outcome);
      });
  if (r.violation) {
    fmt::print("VIOLATION: {}{}\n",
               r.failing_op ? "" : "at teardown: ", printable(r.violation->message()));
    return kExitViolation;
  }
  fmt::print("no violation in {} ops\n", t.ops.size());
  return kExitOk;
}

int run_dma_mutants(const std::string& only, double seconds_per, uint64_t seed, Results& results) {
  std::string names;
  bool known = only.empty();
  for (const conform::DmaMutantSpec& s : conform::dma_mutant_specs()) {
    names += (names.empty() ? "" : ", ") + std::string(s.name);
    known |= s.name == only;
  }
  if (!known)
    throw UsageError(fmt::format("--only {}: no such mutant; valid names: {}", only, names));
  size_t run = 0, killed = 0;
  fmt::print("{:<26} {:<9} {:<20} {:>9} {:>8}  {}\n", "mutant", "result", "check", "seconds", "ops",
             "models");
  Progress progress("mutants dma", only.empty() ? conform::dma_mutant_specs().size() : 1,
                    std::nullopt, "mutants");
  for (const conform::DmaMutantSpec& s : conform::dma_mutant_specs()) {
    if (!only.empty() && s.name != only) continue;
    progress.update(run, fmt::format("{} on dma:arm-64-lpae-s1-4k ({})", s.name,
                                     conform::dma_mode_name(s.mode)));
    const conform::MutantKill k = conform::dma_mutant_kill(s, seconds_per, seed);
    ++run;
    killed += k.killed;
    fmt::print("{:<26} {:<9} {:<20} {:>9.2f} {:>8}  {}\n", s.name, k.killed ? "killed" : "SURVIVED",
               k.killed ? k.check : "-", k.seconds, k.ops, s.models);
    if (k.killed) fmt::print("    {} (minimized to {} ops)\n", printable(k.violation), k.trace_ops);
    results.cases.push_back(mutant_case(std::string(s.name), std::string(s.models), k));
  }
  progress.finish();
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  results.summary = mutants_summary(run, killed);
  return killed == run ? kExitOk : kExitViolation;
}

}  // namespace iommu::cli
