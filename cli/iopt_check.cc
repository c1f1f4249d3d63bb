#include "cli/iopt_check.h"

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "conform/iopt_checker.h"
#include "conform/isolation.h"
#include "conform/registry.h"

namespace iommu::cli {
namespace {

constexpr uint64_t kEpisodeOps = 2000;
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

// One episode: in-process for impl: drivers, in a child process for the others, where a crash,
// an exit or a hang of the driver becomes the violation.
conform::IoptCampaignResult episode(const conform::DriverSource& src, uint64_t seed, uint64_t ops,
                                    conform::CallerMode mode) {
  if (!conform::runs_isolated(src.info))
    return conform::iopt_campaign(seed, ops, scenario(src, seed), mode);
  conform::IsolatedBody body = [&](const conform::DriverSource& watched,
                                   conform::IsolatedChild&) -> std::optional<conform::Violation> {
    conform::IoptCampaignResult r =
        conform::iopt_campaign(seed, ops, scenario(watched, seed), mode);
    if (r.violations.empty()) return std::nullopt;
    conform::Violation v;
    v.op = "episode";
    v.check = "iopt";
    for (const std::string& l : r.violations) v.detail += l + "\n";
    return v;
  };
  const conform::IsolatedRun run = conform::run_isolated(src, body, {});
  conform::IoptCampaignResult r;
  r.ops = ops;
  if (!run.violation) return r;
  if (run.violation->check != "iopt") {
    r.violations = {run.violation->message()};
    return r;
  }
  std::string rest = run.violation->detail;
  for (size_t nl; (nl = rest.find('\n')) != std::string::npos; rest.erase(0, nl + 1))
    r.violations.push_back(rest.substr(0, nl));
  return r;
}

uint64_t episode_seed(uint64_t seed, unsigned job, uint64_t episode) {
  uint64_t z = seed + job * 0x9E3779B97F4A7C15ull + episode * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Found {
  uint64_t seed = 0;
  std::vector<std::string> lines;
};

void report(const IoptCheckArgs& a, const Found& f) {
  fmt::print("VIOLATION: {}\n", f.lines.front());
  std::string name = a.driver;
  for (char& c : name)
    if (c == ':' || c == '/') c = '_';
  const std::filesystem::path path =
      std::filesystem::path(a.out) /
      fmt::format("{}-{}-seed{}.txt", name, a.hostile ? "hostile" : "contract", f.seed);
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  std::ofstream file(path);
  for (const std::string& l : f.lines) file << l << "\n";
  if (!file) {
    fmt::print("the finding could not be written to {}; here it is:\n", path.string());
    for (const std::string& l : f.lines) fmt::print("{}\n", l);
    return;
  }
  fmt::print("finding (episode seed {}, the last operations): {}\n", f.seed, path.string());
}

}  // namespace

bool is_iopt_driver(const std::string& name) { return name.rfind("iopt:", 0) == 0; }

int run_iopt_check(const IoptCheckArgs& a) {
  const conform::DriverSource src = domain_source(a);
  const uint64_t total = a.ops.value_or(a.seconds ? 0 : 100000);
  const auto mode = a.hostile ? conform::CallerMode::kHostile : conform::CallerMode::kContract;
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
      const uint64_t n = total ? std::min(kEpisodeOps, mine - ran) : kEpisodeOps;
      conform::IoptCampaignResult r;
      try {
        r = episode(src, seed, n, mode);
      } catch (const std::exception& ex) {  // the driver could not be created, in the child
        std::lock_guard lock(mu);
        if (!error) error = ex.what();
        stop = true;
        return;
      }
      ran += r.ops;
      done += r.ops;
      std::lock_guard lock(mu);
      progress.update(done);
      if (!r.violations.empty() && !found) {
        found = Found{seed, std::move(r.violations)};
        stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; ++j) threads.emplace_back(job, j);
  for (std::thread& t : threads) t.join();
  progress.finish();
  if (error && !found) throw UsageError(fmt::format("driver '{}': {}", a.driver, *error));
  if (found) report(a, *found);
  const bool interrupted = interrupt.flag().load() && !found;
  if (interrupted) fmt::print("interrupted: the counts cover the ops run until then\n");
  const double seconds = progress.seconds();
  fmt::print("summary: driver={} ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n", a.driver,
             done.load(), found ? 1 : 0, seconds,
             seconds > 0 ? static_cast<double>(done.load()) / seconds : 0.0);
  if (found) return kExitViolation;
  return interrupted ? kExitInterrupted : kExitOk;
}

int run_iopt_mutants(const std::string& only, double seconds_per, uint64_t seed) {
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
  for (iopt::Mutant m : iopt::kAllMutants) {
    if (!only.empty() && iopt::mutant_name(m) != only) continue;
    fmt::print(stderr, "mutant {} on iopt:arm-64-lpae-s1-4k...\n", iopt::mutant_name(m));
    const conform::MutantKill k = conform::iopt_mutant_kill(m, seconds_per, seed);
    ++run;
    killed += k.killed;
    fmt::print("{:<26} {:<9} {:<12} {:>9.2f} {:>8}  {}\n", iopt::mutant_name(m),
               k.killed ? "killed" : "SURVIVED", k.killed ? k.check : "-", k.seconds, k.ops,
               iopt::mutant_description(m));
    if (k.killed) fmt::print("    {}\n", k.violation);
  }
  fmt::print("summary: mutants={} killed={} survived={}\n", run, killed, run - killed);
  return killed == run ? kExitOk : kExitViolation;
}

}  // namespace iommu::cli
