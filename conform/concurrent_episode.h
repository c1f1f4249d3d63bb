// One concurrent episode (conform/concurrent.h): the domain, its worker threads and the
// judgements. Internal to conform/.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conform/checked_pgtable.h"
#include "conform/concurrent.h"
#include "conform/concurrent_ops.h"
#include "conform/memory_pool.h"
#include "hw/format.h"

namespace iommu::conform {

// Releases all threads of a round at once: the last to arrive runs `completion` while the
// others spin, then lets them go together, so that their driver calls overlap as much as the
// machine allows.
class SpinBarrier {
 public:
  SpinBarrier(unsigned n, std::function<void()> completion)
      : n_(n), completion_(std::move(completion)) {}
  void arrive_and_wait();

 private:
  const unsigned n_;
  std::function<void()> completion_;
  std::atomic<unsigned> count_{0};
  std::atomic<uint64_t> phase_{0};
};

class Episode {
 public:
  // Called with each op before its round runs; false stops the episode (an isolated child's
  // record is full).
  using Recorder = std::function<bool(const Op&)>;

  Episode(const DriverSource& source, const CheckOptions& check, const ConcurrentOptions& options,
          Recorder record);
  ~Episode();
  Episode(const Episode&) = delete;
  Episode& operator=(const Episode&) = delete;

  ConcurrentEpisode run();

 private:
  struct Worker;

  void work(unsigned thread);
  void complete_round();
  void judge_round(uint64_t round);
  std::optional<std::pair<std::string, std::string>> shared_findings();
  void set_violation(Violation v);
  void run_op(Worker& w, const Op& op, size_t index);
  void execute(Worker& w, const Op& op);
  std::optional<std::string> probe(Worker& w, const Op& op, size_t index);
  std::optional<Violation> judge_union();
  std::optional<Violation> teardown();

  DriverInfo info_;
  ConcurrentOptions options_;
  Recorder record_;
  MemoryLease lease_;  // before everything that uses the memory, so it returns last
  hw::TableMemory& mem_;
  std::unique_ptr<impl::FlushOps> null_flush_;
  std::unique_ptr<impl::FlushOps> thread_flush_;
  std::unique_ptr<DriverEnv> env_;
  std::unique_ptr<StripeLayout> layout_;
  std::optional<hw::Format> fmt_;
  std::unique_ptr<Driver> driver_;
  std::vector<uint64_t> roots_;
  std::vector<std::unique_ptr<Worker>> workers_;
  SpinBarrier barrier_;
  // Written only by the barrier's completion, read by the workers after it.
  uint64_t round_ = 0;      // the round the workers are choosing ops for
  uint64_t executing_ = 0;  // the round they are running
  bool stop_ = false;
  bool model_limit_ = false;
  uint64_t ops_run_ = 0;
  size_t bad_seen_ = 0;
  std::vector<Op> trace_;
  std::mutex mu_;
  std::optional<Violation> violation_;
};

struct Episode::Worker {
  Worker(impl::FlushOps& flush, const hw::TableMemory& mem, const ref::DomainConfig& cfg,
         const StripeLayout& layout, unsigned index, uint64_t seed)
      : checked(flush, mem, cfg), ops(cfg, layout, index, seed), thread(index) {}
  CheckedPgtable checked;
  ThreadOps ops;
  unsigned thread;
  Op next{};
  RaceCounts races;
};

}  // namespace iommu::conform
