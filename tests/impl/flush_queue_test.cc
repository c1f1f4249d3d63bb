// The flush queue on its own: defaults per style, a full ring flushes, the timer flushes, and
// the counter rule: an entry is freed only by a flush that started after it was queued.
#include "impl/flush_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace iommu::impl {
namespace {

using std::chrono::milliseconds;

struct Harness {
  ManualClock clock;
  int flushes = 0;
  std::vector<std::pair<uint64_t, int>> freed;  // (iova, flushes done when freed)
  std::function<void()> during_flush;
  std::unique_ptr<FlushQueue> fq;

  explicit Harness(FlushQueueConfig cfg) {
    fq = std::make_unique<FlushQueue>(
        cfg, clock,
        [this] {
          if (during_flush) during_flush();
          ++flushes;
        },
        [this](uint64_t iova, uint64_t) { freed.emplace_back(iova, flushes); });
  }
};

TEST(FlushQueue, StyleDefaultsAreLinuxs) {
  ManualClock clock;
  FlushQueue per_cpu({.style = FlushQueueStyle::kPerCpu, .cpus = 4}, clock, [] {}, [](uint64_t, uint64_t) {});
  EXPECT_EQ(per_cpu.config().entries, 256u);
  EXPECT_EQ(per_cpu.config().timeout, milliseconds(10));
  FlushQueue single({.style = FlushQueueStyle::kSingle, .cpus = 4}, clock, [] {}, [](uint64_t, uint64_t) {});
  EXPECT_EQ(single.config().entries, 32768u);
  EXPECT_EQ(single.config().timeout, milliseconds(1000));
  EXPECT_EQ(single.config().cpus, 1u);
}

TEST(FlushQueue, AFullRingFlushesThenFreesThenQueues) {
  Harness h({.entries = 4});
  for (uint64_t i = 1; i <= 3; ++i) h.fq->queue(0, i << 12, 0x1000);
  EXPECT_EQ(h.flushes, 0);
  EXPECT_TRUE(h.freed.empty());
  EXPECT_EQ(h.fq->pending(), 3u) << "a ring of 4 holds 3, as Linux's fq_full";
  h.fq->queue(0, 4 << 12, 0x1000);
  EXPECT_EQ(h.flushes, 1);
  ASSERT_EQ(h.freed.size(), 3u);
  for (const auto& [iova, flushes_then] : h.freed) EXPECT_EQ(flushes_then, 1) << iova;
  EXPECT_EQ(h.fq->pending(), 1u);
  EXPECT_EQ(h.fq->stats().full_flushes, 1u);
}

TEST(FlushQueue, DefaultPerCpuRingFlushesOnThe256thEntry) {
  Harness h({.style = FlushQueueStyle::kPerCpu, .cpus = 2});
  for (uint64_t i = 0; i < 255; ++i) h.fq->queue(1, i << 12, 0x1000);
  EXPECT_EQ(h.flushes, 0);
  h.fq->queue(1, 255 << 12, 0x1000);
  EXPECT_EQ(h.flushes, 1);
  EXPECT_EQ(h.freed.size(), 255u);
}

TEST(FlushQueue, TheTimerFlushesEveryRingWhenDue) {
  Harness h({.style = FlushQueueStyle::kPerCpu, .cpus = 2});
  h.fq->queue(0, 0x1000, 0x1000);
  h.clock.advance(milliseconds(5));
  h.fq->queue(1, 0x2000, 0x1000);  // the timer is already armed: no new deadline
  h.clock.advance(milliseconds(4));
  EXPECT_FALSE(h.fq->poll());
  EXPECT_EQ(h.flushes, 0);
  h.clock.advance(milliseconds(1));
  EXPECT_TRUE(h.fq->poll());
  EXPECT_EQ(h.flushes, 1);
  EXPECT_EQ(h.freed.size(), 2u);
  EXPECT_FALSE(h.fq->poll()) << "disarmed until something is queued";
  h.clock.advance(milliseconds(100));
  EXPECT_FALSE(h.fq->poll());
  EXPECT_EQ(h.fq->stats().timeout_flushes, 1u);
}

TEST(FlushQueue, SingleQueueWaitsASecondAndIgnoresTheCpu) {
  Harness h({.style = FlushQueueStyle::kSingle});
  h.fq->queue(0, 0x1000, 0x1000);
  h.fq->queue(7, 0x2000, 0x1000);
  EXPECT_EQ(h.fq->pending(), 2u);
  h.clock.advance(milliseconds(999));
  EXPECT_FALSE(h.fq->poll());
  h.clock.advance(milliseconds(1));
  EXPECT_TRUE(h.fq->poll());
  EXPECT_EQ(h.freed.size(), 2u);
}

// fq_flush_start_cnt / fq_flush_finish_cnt: an entry queued while a flush is in flight (by
// another CPU) is tagged with that flush, which may have read the tables before the unmap,
// so that flush must not free it; the next one does.
TEST(FlushQueue, AFlushInFlightDoesNotFreeWhatWasQueuedDuringIt) {
  Harness h({.style = FlushQueueStyle::kPerCpu, .cpus = 2, .entries = 4});
  h.during_flush = [&] {
    h.during_flush = nullptr;
    h.fq->queue(1, 0xb000, 0x1000);
  };
  for (uint64_t i = 1; i <= 4; ++i) h.fq->queue(0, i << 12, 0x1000);  // the 4th flushes
  EXPECT_EQ(h.flushes, 1);
  h.fq->queue(1, 0xc000, 0x1000);  // ring 1 frees what finished flushes cover: not 0xb000
  auto freed_b = [&] {
    for (const auto& [iova, flushes_then] : h.freed)
      if (iova == 0xb000) return flushes_then;
    return -1;
  };
  EXPECT_EQ(freed_b(), -1);
  h.fq->flush_all();
  EXPECT_EQ(freed_b(), 2) << "freed by the flush that started after it was queued";
  EXPECT_EQ(h.fq->pending(), 0u);
}

TEST(FlushQueue, EntriesAreNeverFreedWithoutAFlush) {
  Harness h({.style = FlushQueueStyle::kPerCpu, .cpus = 3, .entries = 8});
  for (uint64_t i = 0; i < 6; ++i) h.fq->queue(static_cast<unsigned>(i % 3), i << 12, 0x1000);
  EXPECT_TRUE(h.freed.empty());
  h.fq->queue(0, 0x100000, 0x1000);
  EXPECT_TRUE(h.freed.empty()) << "queueing alone frees nothing";
}

TEST(FlushQueue, MisuseThrows) {
  ManualClock clock;
  auto nop = [] {};
  auto nofree = [](uint64_t, uint64_t) {};
  EXPECT_THROW(FlushQueue({.cpus = 0}, clock, nop, nofree), std::invalid_argument);
  EXPECT_THROW(FlushQueue({.entries = 100}, clock, nop, nofree), std::invalid_argument);
  FlushQueue fq({.cpus = 2}, clock, nop, nofree);
  EXPECT_THROW(fq.queue(2, 0x1000, 0x1000), std::out_of_range);
}

// Several CPUs queue while the timer fires: every entry is freed exactly once, after a flush.
TEST(FlushQueue, ConcurrentQueuesAndTimer) {
  ManualClock clock;
  std::atomic<uint64_t> flushes{0}, freed{0};
  std::atomic<bool> early{false};
  FlushQueue fq({.style = FlushQueueStyle::kPerCpu, .cpus = 4, .entries = 16}, clock,
                [&] { ++flushes; }, [&](uint64_t, uint64_t) {
                  ++freed;
                  if (flushes.load() == 0) early = true;
                });
  std::vector<std::thread> threads;
  for (unsigned cpu = 0; cpu < 4; ++cpu) {
    threads.emplace_back([&, cpu] {
      for (uint64_t i = 0; i < 2000; ++i) {
        fq.queue(cpu, (uint64_t{cpu} << 40) | (i << 12), 0x1000);
        if (i % 64 == 0) {
          clock.advance(milliseconds(3));
          fq.poll();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  fq.flush_all();
  EXPECT_EQ(freed.load(), 8000u);
  EXPECT_FALSE(early.load());
  EXPECT_EQ(fq.pending(), 0u);
}

}  // namespace
}  // namespace iommu::impl
