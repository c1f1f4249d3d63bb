// Concurrent campaigns (`iommucheck check --threads N`): N threads call one driver's map_pages
// and unmap_pages at once on disjoint iova ranges of one domain, as the IOMMU API allows, so
// that a driver's race paths run (a table install that loses its compare-exchange frees its
// table; so does a lost split). Each thread owns interleaved stripes of the iova space, so the
// threads share upper-level tables, and runs its own op stream in lockstep rounds released by
// a barrier. Each op is judged against the thread's own reference (the driver-call rules,
// tlb_add_page coverage of every removed leaf, iova_to_phys and a cache-less walk of the op's
// range); after each round the WARNs and table-memory misuse; at the end of the episode the
// whole domain: the walk of the final tables must map exactly the union of the threads'
// references, and the teardown must free every table page (docs/CHECKER.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/op.h"

namespace iommu::conform {

// Tables freed by the driver call that allocated them, with no allocation failure injected:
// a table install (map_pages) or a split (unmap_pages) that lost its race and freed its table.
struct RaceCounts {
  uint64_t installs_lost = 0;
  uint64_t splits_lost = 0;
  RaceCounts& operator+=(const RaceCounts& o) {
    installs_lost += o.installs_lost;
    splits_lost += o.splits_lost;
    return *this;
  }
};

struct ConcurrentOptions {
  unsigned threads = 2;
  uint64_t seed = 1;             // the episode's; thread t runs thread_seed(seed, t)
  uint64_t rounds = 500;         // each thread runs one op per round
  std::function<bool()> stop{};  // asked once per round; true ends the episode early
};

// The seed of thread t's op stream in an episode.
uint64_t thread_seed(uint64_t episode_seed, unsigned thread);

struct ConcurrentEpisode {
  uint64_t ops = 0;
  RaceCounts races;
  // The first violation. op_index counts in `ops` below; its op is thread op_index % threads'.
  std::optional<Violation> violation;
  // Every thread's ops up to the violation, round by round, thread 0 first: a serial trace
  // (the ranges are disjoint, so any order is a correct caller's).
  std::vector<Op> trace;
};

// Throws std::invalid_argument when the driver does not declare concurrent calls
// (DriverInfo::concurrent) or threads < 2, ModelLimitError when the table memory ran out.
ConcurrentEpisode run_concurrent_episode(const DriverSource& source, const CheckOptions& check,
                                         const ConcurrentOptions& options);

struct ConcurrentCampaignOptions {
  unsigned threads = 2;
  uint64_t seed = 1;
  uint64_t ops = 0;       // stop after about this many ops (all threads); 0: the time limit
  double seconds = 0;     // stop after this long; 0: the op limit
  uint64_t rounds = 500;  // per episode
  CheckOptions check{};
  bool keep_going = false;
  bool isolate = false;  // each episode in a child process (plugin: and linux: drivers)
  double call_timeout = 5;
  const std::atomic<bool>* interrupt = nullptr;
  std::function<void(uint64_t ops)> progress{};
};

struct ConcurrentFinding {
  Violation violation;
  std::vector<Op> trace;  // ConcurrentEpisode::trace
  uint64_t episode_seed = 0;
  std::optional<unsigned> thread;  // the thread whose op failed; none for an episode's end
};

struct ConcurrentReport {
  uint64_t ops = 0;
  uint64_t episodes = 0;
  double seconds = 0;
  RaceCounts races;
  std::vector<ConcurrentFinding> findings;  // one per distinct signature
  std::map<std::string, uint64_t> occurrences;
};

// Episodes with seeds derived from options.seed until the budget is spent, or the first
// finding without keep_going.
ConcurrentReport run_concurrent_campaign(const DriverSource& source,
                                         const ConcurrentCampaignOptions& options);

}  // namespace iommu::conform
