// Concurrent episodes one after another, each in a child process for isolated drivers.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

#include "conform/concurrent.h"
#include "conform/concurrent_episode.h"
#include "conform/isolation.h"
#include "conform/signature.h"

namespace iommu::conform {
namespace {

using Clock = std::chrono::steady_clock;

// An isolated child's counts, in memory the fork shares with the parent.
struct SharedCounts {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> installs_lost{0};
  std::atomic<uint64_t> splits_lost{0};
};

class SharedCountsMapping {
 public:
  SharedCountsMapping() {
    void* p = mmap(nullptr, sizeof(SharedCounts), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    counts_ = new (p) SharedCounts{};
  }
  ~SharedCountsMapping() { munmap(counts_, sizeof(SharedCounts)); }
  SharedCountsMapping(const SharedCountsMapping&) = delete;
  SharedCountsMapping& operator=(const SharedCountsMapping&) = delete;
  SharedCounts& operator*() const { return *counts_; }

 private:
  SharedCounts* counts_;
};

ConcurrentEpisode run_isolated_episode(const DriverSource& source,
                                       const ConcurrentCampaignOptions& o,
                                       const ConcurrentOptions& episode,
                                       const std::function<bool()>& stop) {
  SharedCountsMapping shared;
  SharedCounts& counts = *shared;
  IsolatedBody body = [&](const DriverSource& watched,
                          IsolatedChild& child) -> std::optional<Violation> {
    ConcurrentOptions e = episode;
    e.stop = [&child] { return child.stop_requested(); };
    Episode run(watched, o.check, e, [&child](const Op& op) { return child.started(op); });
    ConcurrentEpisode done = run.run();
    counts.ops = done.ops;
    counts.installs_lost = done.races.installs_lost;
    counts.splits_lost = done.races.splits_lost;
    return done.violation;
  };
  const IsolatedRun run =
      run_isolated(source, body, {.call_timeout = o.call_timeout, .stop = stop, .progress = {}});
  ConcurrentEpisode out;
  out.ops = counts.ops != 0 ? counts.ops.load() : run.ops.size();
  out.races = {counts.installs_lost, counts.splits_lost};
  out.violation = run.violation;
  out.trace = run.ops;
  if (out.violation) out.trace.resize(std::min(out.trace.size(), out.violation->op_index + 1));
  return out;
}

std::optional<unsigned> failing_thread(const Violation& v, unsigned threads) {
  if (v.op == "end of episode" || v.op == "teardown" || v.op == "create") return std::nullopt;
  return static_cast<unsigned>(v.op_index % threads);
}

}  // namespace

ConcurrentReport run_concurrent_campaign(const DriverSource& source,
                                         const ConcurrentCampaignOptions& o) {
  ConcurrentReport report;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto out_of_budget = [&] {
    if (o.interrupt && o.interrupt->load()) return true;
    if (o.seconds > 0 && elapsed() >= o.seconds) return true;
    return o.ops > 0 && report.ops >= o.ops;
  };
  for (uint64_t e = 0; !out_of_budget(); e++) {
    ConcurrentOptions episode{
        .threads = o.threads, .seed = o.seed + e * 0x10000, .rounds = o.rounds};
    if (o.ops > 0)
      episode.rounds = std::min(o.rounds, (o.ops - report.ops + o.threads - 1) / o.threads);
    episode.stop = out_of_budget;
    ConcurrentEpisode done = o.isolate ? run_isolated_episode(source, o, episode, out_of_budget)
                                       : run_concurrent_episode(source, o.check, episode);
    // An episode that dies before its first op still spends the budget, or a driver that
    // crashes at create would keep a keep-going campaign running for ever.
    report.ops += std::max<uint64_t>(done.ops, 1);
    report.episodes++;
    report.races += done.races;
    if (o.progress) o.progress(report.ops);
    if (!done.violation) continue;
    const std::string signature = finding_signature(*done.violation);
    if (report.occurrences[signature]++ == 0)
      report.findings.push_back({*done.violation, std::move(done.trace), episode.seed,
                                 failing_thread(*done.violation, o.threads)});
    if (!o.keep_going) break;
  }
  report.seconds = elapsed();
  return report;
}

}  // namespace iommu::conform
