// The dma-iommu flush queue (drivers/iommu/dma-iommu.c: queue_iova, fq_ring_free,
// fq_flush_iotlb, fq_flush_timeout). A lazy unmap leaves its translations in the IOTLB and
// queues the IOVA range; the range goes back to the allocator only after a flush_iotlb_all
// that started after it was queued, so no IOVA is handed out again while a stale translation
// of it may survive. A full queue or an expired timer triggers the flush.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "impl/mutant.h"

namespace iommu::impl {

// Milliseconds, like jiffies: injectable so that timeouts are deterministic in tests.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::milliseconds now() const = 0;
};

class ManualClock : public Clock {
 public:
  std::chrono::milliseconds now() const override { return std::chrono::milliseconds(ms_.load()); }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<int64_t> ms_{0};
};

class SteadyClock : public Clock {
 public:
  std::chrono::milliseconds now() const override;
};

enum class FlushQueueStyle {
  kPerCpu,  // one queue per CPU: IOVA_DEFAULT_FQ_SIZE 256 entries, 10 ms
  kSingle,  // one shared queue (shadow_on_flush): IOVA_SINGLE_FQ_SIZE 32768 entries, 1000 ms
};

struct FlushQueueConfig {
  FlushQueueStyle style = FlushQueueStyle::kPerCpu;
  unsigned cpus = 1;                      // per-CPU: how many queues; single: ignored
  size_t entries = 0;                     // ring size, a power of two; 0: the style's default
  std::chrono::milliseconds timeout{0};   // 0: the style's default
  // The bug zoo's seeded bug in this queue (impl/mutant.h): kDmaFreeUnflushed,
  // kDmaQueueForgets, kDmaTimerNeverFires.
  Mutant bug = Mutant::kNone;
};

struct FlushQueueStats {
  uint64_t queued = 0;           // ranges queued
  uint64_t freed = 0;            // ranges handed back
  uint64_t full_flushes = 0;     // flushes because a ring was full
  uint64_t timeout_flushes = 0;  // flushes by the timer
  uint64_t flushes = 0;          // all flushes (fq_flush_finish_cnt)
};

// Thread-safe: each ring has its own lock, the counters are atomic (as in Linux).
class FlushQueue {
 public:
  using FlushFn = std::function<void()>;                         // the domain's flush_iotlb_all
  using FreeFn = std::function<void(uint64_t iova, uint64_t size)>;  // back to the allocator

  // Throws std::invalid_argument for zero CPUs or a ring size that is not a power of two >= 2.
  FlushQueue(const FlushQueueConfig& cfg, const Clock& clock, FlushFn flush, FreeFn free);

  // queue_iova: frees what earlier flushes already cover, flushes first if the ring is full,
  // queues the range tagged with the flushes started so far, arms the timer. cpu picks the
  // per-CPU ring (std::out_of_range unless cpu < cpus); a single queue ignores it.
  void queue(unsigned cpu, uint64_t iova, uint64_t size);

  // fq_flush_timeout, when the timer is armed and due: flush, then free every ring. Call it
  // as often as convenient; a timer that fires late only keeps IOVAs longer. True if it fired.
  bool poll();

  // Flush now and free every ring (a caller that wants all its IOVA space back).
  void flush_all();

  size_t pending() const;  // ranges queued, not yet freed
  FlushQueueStats stats() const;
  const FlushQueueConfig& config() const { return cfg_; }

 private:
  struct Entry {
    uint64_t iova = 0;
    uint64_t size = 0;
    uint64_t counter = 0;  // fq_flush_start_cnt when queued
  };
  struct Ring {
    mutable std::mutex mu;
    std::vector<Entry> entries;
    size_t head = 0, tail = 0;  // empty when equal; one slot stays unused, as in Linux
  };

  Ring& ring_for(unsigned cpu);
  void free_flushed_locked(Ring& ring);
  void flush_iotlb();
  void free_all_rings();
  void arm_timer();

  FlushQueueConfig cfg_;
  const Clock& clock_;
  FlushFn flush_;
  FreeFn free_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::atomic<uint64_t> flush_start_cnt_{0};
  std::atomic<uint64_t> flush_finish_cnt_{0};
  std::mutex timer_mu_;
  bool timer_on_ = false;  // under timer_mu_
  std::chrono::milliseconds deadline_{0};
  std::atomic<uint64_t> queued_{0}, freed_{0}, full_flushes_{0}, timeout_flushes_{0};
};

}  // namespace iommu::impl
