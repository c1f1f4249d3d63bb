// The campaign of the layers above the page table (`check --driver iopt:...`, `dma:...`):
// --jobs threads run episodes of up to 2000 ops, each with its own seed, until the ops or the
// time run out, a finding stops them all or the user interrupts; then the finding is reported
// and the summary line printed as `check` prints it.
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/results.h"

namespace iommu::cli {

struct EpisodeBudget {
  uint64_t seed = 1;
  std::optional<uint64_t> ops;  // default 100,000 unless seconds
  std::optional<double> seconds;
  unsigned jobs = 1;
};

template <class Finding>
struct Episode {
  uint64_t ops = 0;  // ops run
  std::optional<Finding> finding;
};

// run(seed, episode, ops, interrupted) runs one episode; an exception means the world could
// not be built, which ends the campaign with a UsageError naming the driver.
template <class Finding>
using EpisodeFn = std::function<Episode<Finding>(uint64_t seed, uint64_t episode, uint64_t ops,
                                                 const std::atomic<bool>& interrupted)>;

// Job j's e-th episode seed: splitmix64 of the three, so nearby seeds share no episodes.
inline uint64_t episode_seed(uint64_t seed, unsigned job, uint64_t episode) {
  uint64_t z = seed + job * 0x9E3779B97F4A7C15ull + episode * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The exit code of `check`. The campaign is one case of `results`, named `name`; report(f)
// prints the finding, writes its trace and returns it for the CI formats.
template <class Finding>
int run_episodes(const std::string& driver, const EpisodeBudget& b, const EpisodeFn<Finding>& run,
                 const std::function<ResultFinding(Finding&)>& report, Results& results,
                 const std::string& name) {
  constexpr uint64_t kEpisodeOps = 2000;
  const uint64_t total = b.ops.value_or(b.seconds ? 0 : 100000);
  InterruptGuard interrupt;
  Progress progress("check " + driver, total, b.seconds);
  const auto start = std::chrono::steady_clock::now();
  auto out_of_time = [&] {
    return b.seconds &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
               *b.seconds;
  };
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Finding> found;
  std::optional<std::string> error;
  auto job = [&](unsigned j) {
    const uint64_t mine = total ? total / b.jobs + (j < total % b.jobs ? 1 : 0) : 0;
    uint64_t ran = 0;
    for (uint64_t e = 0; !stop && !interrupt.flag() && (total ? ran < mine : !out_of_time()); ++e) {
      // Budgeted by the ops planned, not run: an episode that runs none still ends the loop.
      const uint64_t n = total ? std::min(kEpisodeOps, mine - ran) : kEpisodeOps;
      Episode<Finding> r;
      try {
        r = run(episode_seed(b.seed, j, e), e, n, interrupt.flag());
      } catch (const std::exception& ex) {
        std::lock_guard lock(mu);
        if (!error) error = ex.what();
        stop = true;
        return;
      }
      ran += n;
      done += r.ops;
      std::lock_guard lock(mu);
      progress.update(done);
      if (r.finding && !found) {
        found = std::move(r.finding);
        stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < b.jobs; ++j) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();
  if (error && !found) throw UsageError(fmt::format("driver '{}': {}", driver, *error));
  const double seconds = progress.seconds();
  const double ops_per_s = seconds > 0 ? static_cast<double>(done.load()) / seconds : 0.0;
  ResultCase c{.name = name, .seconds = seconds, .fields = {{"ops", done.load()}}};
  if (found) {
    c.findings.push_back(report(*found));
    c.verdict = Verdict::kFail;
    c.message = c.findings.back().message;
  }
  results.cases.push_back(std::move(c));
  const bool interrupted = interrupt.flag().load() && !found;
  if (interrupted) fmt::print("interrupted: the counts cover the ops run until then\n");
  fmt::print("summary: driver={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n", driver,
             done.load(), found ? 1 : 0, seconds, ops_per_s);
  results.summary = {
      {"driver", driver},   {"ops", done.load()},     {"violations", uint64_t{found ? 1u : 0u}},
      {"seconds", seconds}, {"ops_per_s", ops_per_s}, {"interrupted", interrupted}};
  if (found) return kExitViolation;
  return interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace iommu::cli
