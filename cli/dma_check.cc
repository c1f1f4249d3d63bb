#include "cli/dma_check.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/text.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

constexpr uint64_t kEpisodeOps = 2000;

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

uint64_t episode_seed(uint64_t seed, unsigned job, uint64_t episode) {
  uint64_t z = seed + job * 0x9E3779B97F4A7C15ull + episode * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Found {
  conform::DmaTrace trace;
  conform::DmaViolation violation;
  uint64_t seed = 0;
};

void report(const DmaCheckArgs& a, Found f) {
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
  if (!file) {
    fmt::print("the finding could not be written to {}; here it is:\n{}", path.string(),
               conform::format_dma_trace(small));
    return;
  }
  if (again.violation)
    fmt::print("finding (minimized to {} ops): {}\n", small.ops.size(), path.string());
  else  // a violation that depends on more than the ops (it should not happen): kept whole
    fmt::print("finding (NOT minimized: the shorter trace did not fail again): {}\n",
               path.string());
}

}  // namespace

bool is_dma_driver(const std::string& name) { return name.rfind("dma:", 0) == 0; }

int run_dma_check(const DmaCheckArgs& a) {
  const std::string format = format_of(a.driver);
  const uint64_t total = a.ops.value_or(a.seconds ? 0 : 100000);
  const auto caller = a.hostile ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
  InterruptGuard interrupt;
  Progress progress("check " + a.driver, total);
  const auto start = std::chrono::steady_clock::now();
  auto out_of_time = [&] {
    return a.seconds &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
               *a.seconds;
  };
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Found> found;
  std::optional<std::string> error;
  auto job = [&](unsigned j) {
    const uint64_t mine = total ? total / a.jobs + (j < total % a.jobs ? 1 : 0) : 0;
    uint64_t ran = 0;
    for (uint64_t e = 0; !stop && !interrupt.flag() && (total ? ran < mine : !out_of_time()); ++e) {
      const uint64_t seed = episode_seed(a.seed, j, e);
      const conform::DmaMode mode = a.modes[e % a.modes.size()];
      const uint64_t n = total ? std::min(kEpisodeOps, mine - ran) : kEpisodeOps;
      conform::DmaTrace t;
      conform::DmaRunResult r;
      try {
        t = conform::generate_dma_trace(conform::dma_scenario(format, mode, caller, seed), seed, n);
        r = conform::run_dma_trace(t);
      } catch (const std::exception& ex) {  // the world could not be built (a model limit)
        std::lock_guard lock(mu);
        if (!error) error = ex.what();
        stop = true;
        return;
      }
      ran += n;
      done += r.ops;
      std::lock_guard lock(mu);
      progress.update(done);
      if (r.violation && !found) {
        found = Found{t, *r.violation, seed};
        stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; ++j) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();
  if (error && !found) throw UsageError(fmt::format("driver '{}': {}", a.driver, *error));
  if (found) report(a, std::move(*found));
  const bool interrupted = interrupt.flag().load() && !found;
  if (interrupted) fmt::print("interrupted: the counts cover the ops run until then\n");
  const double seconds = progress.seconds();
  fmt::print("summary: driver={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n", a.driver,
             done.load(), found ? 1 : 0, seconds,
             seconds > 0 ? static_cast<double>(done.load()) / seconds : 0.0);
  if (found) return kExitViolation;
  return interrupted ? kExitInterrupted : kExitOk;
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

int run_dma_mutants(const std::string& only, double seconds_per, uint64_t seed) {
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
  for (const conform::DmaMutantSpec& s : conform::dma_mutant_specs()) {
    if (!only.empty() && s.name != only) continue;
    fmt::print(stderr, "mutant {} on dma:arm-64-lpae-s1-4k ({})...\n", s.name,
               conform::dma_mode_name(s.mode));
    const conform::MutantKill k = conform::dma_mutant_kill(s, seconds_per, seed);
    ++run;
    killed += k.killed;
    fmt::print("{:<26} {:<9} {:<20} {:>9.2f} {:>8}  {}\n", s.name, k.killed ? "killed" : "SURVIVED",
               k.killed ? k.check : "-", k.seconds, k.ops, s.models);
    if (k.killed) fmt::print("    {} (minimized to {} ops)\n", printable(k.violation), k.trace_ops);
  }
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  return killed == run ? kExitOk : kExitViolation;
}

}  // namespace iommu::cli
