#include "conform/concurrent.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "conform/checked_pgtable.h"
#include "conform/concurrent_episode.h"
#include "conform/concurrent_ops.h"
#include "conform/memory_pool.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

// The checked wrapper of the thread that is calling the driver: the driver's flush callbacks
// come back on the calling thread, inside the call (the plugin ABI promises it).
thread_local CheckedPgtable* t_checked = nullptr;

// The table allocations of the driver call in progress on this thread.
struct CallTrack {
  std::vector<uint64_t> allocated;
  uint64_t freed_own = 0;  // tables freed by the call that allocated them
};
thread_local CallTrack* t_call = nullptr;

void observe(uint64_t paddr, bool allocated) {
  CallTrack* c = t_call;
  if (!c) return;
  if (allocated) {
    c->allocated.push_back(paddr);
    return;
  }
  auto it = std::find(c->allocated.begin(), c->allocated.end(), paddr);
  if (it == c->allocated.end()) return;
  c->allocated.erase(it);
  c->freed_own++;
}

class NullFlush final : public impl::FlushOps {
 public:
  void tlb_flush_all() override {}
  void tlb_flush_walk(uint64_t, uint64_t, uint64_t) override {}
  void tlb_add_page(impl::IotlbGather&, uint64_t, uint64_t) override {}
};

// Routes each flush callback to the calling thread's CheckedPgtable, which records it for
// that thread's tlb_add_page coverage check. Outside the threads' ops (create, destroy, which
// flushes everything before freeing the tables) there is nothing to judge them against.
class ThreadFlush final : public impl::FlushOps {
 public:
  void tlb_flush_all() override { current().tlb_flush_all(); }
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) override {
    current().tlb_flush_walk(iova, size, granule);
  }
  void tlb_add_page(impl::IotlbGather& gather, uint64_t iova, uint64_t granule) override {
    current().tlb_add_page(gather, iova, granule);
  }

 private:
  impl::FlushOps& current() {
    if (t_checked) return *t_checked;
    return outside_;
  }
  NullFlush outside_;
};

}  // namespace

uint64_t thread_seed(uint64_t episode_seed, unsigned thread) {
  return episode_seed * 0x9e3779b97f4a7c15 + uint64_t{0x632be59bd9b4e019} * (thread + 1);
}

void SpinBarrier::arrive_and_wait() {
  const uint64_t phase = phase_.load(std::memory_order_acquire);
  if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
    count_.store(0, std::memory_order_relaxed);
    completion_();
    phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  // Spinning releases the threads together; yielding keeps more threads than cores going.
  for (unsigned spins = 0; phase_.load(std::memory_order_acquire) == phase; spins++)
    if (spins > 256) std::this_thread::yield();
}

Episode::Episode(const DriverSource& source, const CheckOptions& check,
                 const ConcurrentOptions& options, Recorder record)
    : info_(source.info),
      options_(options),
      record_(std::move(record)),
      lease_(checked_memory_config(info_.config.oas, check.table_memory)),
      mem_(lease_.memory()),
      null_flush_(std::make_unique<NullFlush>()),
      thread_flush_(std::make_unique<ThreadFlush>()),
      env_(new DriverEnv{mem_, *thread_flush_}),
      layout_(std::make_unique<StripeLayout>(info_.config, options.threads, options.seed)),
      barrier_(options.threads, [this] { complete_round(); }) {
  if (!info_.concurrent)
    throw std::invalid_argument(
        fmt::format("{} does not declare concurrent calls on disjoint ranges (docs/PLUGINS.md, "
                    "IOMMUCHECK_DRIVER_CONCURRENT), so it cannot run with several threads",
                    info_.name));
  if (options.threads < 2) throw std::invalid_argument("a concurrent episode needs 2 threads");
  ref::validate(info_.config);
  if (info_.walkable()) fmt_ = hw::make_format(info_.walk_format());
  env_->bug = check.bug;
  driver_ = source.create(*env_);
  if (mem_.allocations_refused() != 0)
    throw ModelLimitError("the table memory cannot hold the driver's first tables");
  roots_ = driver_->roots();
  for (unsigned t = 0; t < options.threads; t++) {
    workers_.push_back(std::make_unique<Worker>(*null_flush_, mem_, info_.config, *layout_, t,
                                                thread_seed(options.seed, t)));
    workers_.back()->checked.attach(*driver_);
  }
}

Episode::~Episode() {
  mem_.set_observer(nullptr);
  driver_.reset();  // before the memory lease returns
}

ConcurrentEpisode Episode::run() {
  mem_.set_observer(observe);
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < options_.threads; t++) threads.emplace_back([this, t] { work(t); });
  work(0);
  for (std::thread& t : threads) t.join();
  mem_.set_observer(nullptr);
  if (model_limit_)
    throw ModelLimitError(
        fmt::format("the model's table memory ran out in a concurrent episode "
                    "(seed {}); the driver's answers were not judged",
                    options_.seed));
  ConcurrentEpisode out;
  for (const auto& w : workers_) out.races += w->races;
  if (!violation_) violation_ = judge_union();
  if (!violation_) violation_ = teardown();
  out.ops = ops_run_;
  out.violation = violation_;
  if (violation_) trace_.resize(std::min(trace_.size(), violation_->op_index + 1));
  out.trace = std::move(trace_);
  return out;
}

void Episode::work(unsigned t) {
  Worker& w = *workers_[t];
  t_checked = &w.checked;
  for (;;) {
    w.next = w.ops.next(w.checked.shadow(), round_);
    barrier_.arrive_and_wait();
    if (stop_) break;
    run_op(w, w.next, executing_ * options_.threads + t);
  }
  t_checked = nullptr;
}

// Runs once per round, by the last thread to arrive, while the others wait: judges what the
// round before left in the shared logs, then records this round's ops or stops.
void Episode::complete_round() {
  if (round_ > 0) judge_round(round_ - 1);
  if (mem_.allocations_refused() != 0) model_limit_ = true;
  if (violation_ || model_limit_ || round_ >= options_.rounds ||
      (options_.stop && options_.stop())) {
    stop_ = true;
    return;
  }
  for (const auto& w : workers_) {
    if (record_ && !record_(w->next)) {
      stop_ = true;
      return;
    }
    trace_.push_back(w->next);
  }
  executing_ = round_++;
  ops_run_ += options_.threads;
}

void Episode::set_violation(Violation v) {
  std::lock_guard lock(mu_);
  if (!violation_ || v.op_index < violation_->op_index) violation_ = std::move(v);
}

void Episode::run_op(Worker& w, const Op& op, size_t index) {
  auto fail = [&](std::string check, std::string detail) {
    set_violation(Violation{
        index, format_op(op), std::move(check),
        fmt::format("thread {} (seed {}, its op {}): {}", w.thread,
                    thread_seed(options_.seed, w.thread), index / options_.threads + 1, detail)});
  };
  CallTrack track;
  t_call = &track;
  try {
    execute(w, op);
  } catch (const std::exception& e) {
    t_call = nullptr;
    if (!w.checked.violations().empty()) return fail("driver-call", w.checked.violations().front());
    return fail("driver-call", fmt::format("the call failed: {}", e.what()));
  }
  t_call = nullptr;
  (std::holds_alternative<MapPagesOp>(op) ? w.races.installs_lost : w.races.splits_lost) +=
      track.freed_own;
  if (!w.checked.violations().empty()) return fail("driver-call", w.checked.violations().front());
  try {
    if (auto why = probe(w, op, index)) fail("translation", *why);
  } catch (const std::exception& e) {
    fail("translation", fmt::format("a probe failed: {}", e.what()));
  }
}

void Episode::execute(Worker& w, const Op& op) {
  if (const auto* o = std::get_if<MapPagesOp>(&op)) {
    uint64_t mapped = 0;
    w.checked.map_pages(o->iova, o->paddr, o->pgsize, o->pgcount, o->prot, &mapped);
  } else if (const auto* u = std::get_if<UnmapPagesOp>(&op)) {
    impl::IotlbGather gather;  // nothing caches translations here: no sync needed
    w.checked.unmap_pages(u->iova, u->pgsize, u->pgcount, &gather);
  }
}

ConcurrentEpisode run_concurrent_episode(const DriverSource& source, const CheckOptions& check,
                                         const ConcurrentOptions& options) {
  Episode episode(source, check, options, {});
  return episode.run();
}

}  // namespace iommu::conform
