// The flush-queue counter rule the proof reasons about (proofs/flush_fq.h with uint64_t)
// predicts exactly what impl::FlushQueue frees: random runs over 1..4 CPUs where flushes are
// left in flight while other CPUs queue (the flush callback queues on other CPUs), full
// rings, timer flushes and flush_all. Every freed entry is at its ring's head and
// fq_may_free(tag, finished) holds; after every free pass the ring's head may not be freed.
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <set>
#include <vector>

#include "impl/flush_queue.h"
#include "proofs/flush_fq.h"

namespace iommu::proofs {
namespace {

struct Entry {
  uint64_t iova;
  uint64_t tag;
};

class QueueModel {
 public:
  QueueModel(unsigned cpus, size_t entries, FqFlaw flaw, uint64_t seed)
      : rings_(cpus),
        flaw_(flaw),
        rng_(seed),
        queue_(
            {.style = impl::FlushQueueStyle::kPerCpu,
             .cpus = cpus,
             .entries = entries,
             .timeout = std::chrono::milliseconds(10)},
            clock_, [this] { on_flush(); }, [this](uint64_t iova, uint64_t) { on_free(iova); }) {}

  // One top-level move: queue, a timer poll, or flush_all.
  void move() {
    const unsigned cpu = static_cast<unsigned>(rng_() % rings_.size());
    switch (rng_() % 4) {
      case 0:
      case 1: queue_on(cpu); break;
      case 2:
        clock_.advance(std::chrono::milliseconds(rng_() % 8));
        if (queue_.poll()) check_heads_all();
        break;
      default:
        if (rng_() % 8 == 0) {
          queue_.flush_all();
          check_heads_all();
        }
    }
  }

  bool ok() const { return ok_; }
  std::string failure() const { return failure_; }

 private:
  uint64_t finished() const { return started_ - in_flight_; }

  void queue_on(unsigned cpu) {
    const uint64_t iova = next_iova_ += 0x1000;
    held_.insert(cpu);
    queue_.queue(cpu, iova, 0x1000);
    held_.erase(cpu);
    // queue() tags the entry last, after its free pass and any full-ring flush, and nothing
    // changes the counters between that moment and its return.
    rings_[cpu].push_back({iova, fq_tag(started_, finished(), flaw_)});
    check_head(cpu);
  }

  void on_flush() {
    // The queue has counted this flush as started; it finishes when we return.
    ++started_;
    ++in_flight_;
    if (rng_() % 2 == 0 && held_.size() < rings_.size()) {
      unsigned other = static_cast<unsigned>(rng_() % rings_.size());
      while (held_.count(other)) other = static_cast<unsigned>((other + 1) % rings_.size());
      queue_on(other);  // another CPU queues while this flush is in flight
    }
    --in_flight_;
  }

  void on_free(uint64_t iova) {
    for (auto& ring : rings_) {
      if (!ring.empty() && ring.front().iova == iova) {
        if (!fq_may_free(ring.front().tag, finished())) fail("freed before its flush", iova);
        ring.pop_front();
        return;
      }
    }
    fail("freed an entry that is not at a ring's head", iova);
  }

  // After queue()'s free pass the head of its ring may not be freed any more.
  void check_head(unsigned cpu) {
    const auto& ring = rings_[cpu];
    if (!ring.empty() && fq_may_free(ring.front().tag, finished()))
      fail("a freeable entry stayed at the head", ring.front().iova);
  }

  void check_heads_all() {
    for (const auto& ring : rings_)
      if (!ring.empty() && fq_may_free(ring.front().tag, finished()))
        fail("a freeable entry stayed after a full free pass", ring.front().iova);
  }

  void fail(const char* what, uint64_t iova) {
    if (!ok_) return;
    ok_ = false;
    failure_ = std::string(what) + " at iova " + std::to_string(iova);
  }

  std::vector<std::deque<Entry>> rings_;
  FqFlaw flaw_;
  std::mt19937_64 rng_;
  impl::ManualClock clock_;
  impl::FlushQueue queue_;
  std::set<unsigned> held_;
  uint64_t started_ = 0, in_flight_ = 0, next_iova_ = 0;
  bool ok_ = true;
  std::string failure_;
};

TEST(FlushQueueModel, CounterRulePredictsEveryFree) {
  for (unsigned cpus = 1; cpus <= 4; ++cpus) {
    for (size_t entries : {size_t{4}, size_t{8}}) {
      for (uint64_t seed = 0; seed < 40; ++seed) {
        QueueModel m(cpus, entries, FqFlaw::kNone, seed);
        for (int i = 0; i < 300 && m.ok(); ++i) m.move();
        ASSERT_TRUE(m.ok()) << m.failure() << " (cpus " << cpus << ", ring " << entries << ", seed "
                            << seed << ")";
      }
    }
  }
}

TEST(FlushQueueModel, FinishCountTagDisagreesWithTheQueue) {
  bool caught = false;
  for (uint64_t seed = 0; seed < 40 && !caught; ++seed) {
    QueueModel m(4, 4, FqFlaw::kFinishTag, seed);
    for (int i = 0; i < 300 && m.ok(); ++i) m.move();
    caught = !m.ok();
  }
  EXPECT_TRUE(caught) << "a model tagging with the finish count should mispredict a free";
}

}  // namespace
}  // namespace iommu::proofs
