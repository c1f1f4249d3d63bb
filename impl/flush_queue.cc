#include "impl/flush_queue.h"

#include <fmt/core.h>

#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {
namespace {

constexpr size_t kPerCpuEntries = 256;  // IOVA_DEFAULT_FQ_SIZE
constexpr size_t kSingleEntries = 32768;  // IOVA_SINGLE_FQ_SIZE
constexpr std::chrono::milliseconds kPerCpuTimeout{10};  // IOVA_DEFAULT_FQ_TIMEOUT
constexpr std::chrono::milliseconds kSingleTimeout{1000};  // IOVA_SINGLE_FQ_TIMEOUT

FlushQueueConfig resolve(FlushQueueConfig cfg) {
  const bool single = cfg.style == FlushQueueStyle::kSingle;
  if (single) cfg.cpus = 1;
  if (cfg.entries == 0) cfg.entries = single ? kSingleEntries : kPerCpuEntries;
  if (cfg.timeout.count() == 0) cfg.timeout = single ? kSingleTimeout : kPerCpuTimeout;
  if (cfg.cpus == 0) throw std::invalid_argument("a per-CPU flush queue needs at least one CPU");
  if (cfg.entries < 2 || !is_pow2(cfg.entries)) {
    throw std::invalid_argument(
        fmt::format("flush queue size {} is not a power of two >= 2", cfg.entries));
  }
  return cfg;
}

}  // namespace

std::chrono::milliseconds SteadyClock::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
}

FlushQueue::FlushQueue(const FlushQueueConfig& cfg, const Clock& clock, FlushFn flush, FreeFn free)
    : cfg_(resolve(cfg)), clock_(clock), flush_(std::move(flush)), free_(std::move(free)) {
  for (unsigned i = 0; i < cfg_.cpus; ++i) {
    rings_.push_back(std::make_unique<Ring>());
    rings_.back()->entries.resize(cfg_.entries);
  }
}

FlushQueue::Ring& FlushQueue::ring_for(unsigned cpu) {
  if (cfg_.style == FlushQueueStyle::kSingle) return *rings_[0];
  if (cpu >= rings_.size()) {
    throw std::out_of_range(
        fmt::format("flush queue for CPU {}, but only {} per-CPU queues exist", cpu, rings_.size()));
  }
  return *rings_[cpu];
}

// fq_ring_free_locked: entries are in queue order, so their counters never decrease.
void FlushQueue::free_flushed_locked(Ring& ring) {
  // The mutant also frees entries tagged with the latest finished flush's own start count.
  const uint64_t finished =
      flush_finish_cnt_.load() + (cfg_.bug == Mutant::kDmaFreeUnflushed ? 1 : 0);
  const size_t mask = ring.entries.size() - 1;
  while (ring.head != ring.tail) {
    const Entry& e = ring.entries[ring.head];
    if (e.counter >= finished) break;
    free_(e.iova, e.size);
    ++freed_;
    ring.head = (ring.head + 1) & mask;
  }
}

// fq_flush_iotlb: an entry tagged n is covered once n + 1 flushes have finished, and the
// (n + 1)th flush started after the entry was tagged, so after its unmap.
void FlushQueue::flush_iotlb() {
  ++flush_start_cnt_;
  flush_();
  ++flush_finish_cnt_;
}

void FlushQueue::queue(unsigned cpu, uint64_t iova, uint64_t size) {
  Ring& ring = ring_for(cpu);
  {
    std::lock_guard lock(ring.mu);
    // Make room with what other CPUs' flushes already cover before flushing again.
    free_flushed_locked(ring);
    const size_t mask = ring.entries.size() - 1;
    if (((ring.tail + 1) & mask) == ring.head && cfg_.bug == Mutant::kDmaQueueForgets) {
      ring.head = (ring.head + 1) & mask;
    } else if (((ring.tail + 1) & mask) == ring.head) {
      flush_iotlb();
      ++full_flushes_;
      free_flushed_locked(ring);
    }
    ring.entries[ring.tail] = {iova, size, flush_start_cnt_.load()};
    ring.tail = (ring.tail + 1) & mask;
    ++queued_;
  }
  arm_timer();
}

void FlushQueue::arm_timer() {
  std::lock_guard lock(timer_mu_);
  if (timer_on_) return;
  timer_on_ = true;
  deadline_ = clock_.now() + cfg_.timeout;
}

bool FlushQueue::poll() {
  {
    std::lock_guard lock(timer_mu_);
    if (!timer_on_ || clock_.now() < deadline_ || cfg_.bug == Mutant::kDmaTimerNeverFires)
      return false;
    timer_on_ = false;
  }
  flush_iotlb();
  ++timeout_flushes_;
  free_all_rings();
  return true;
}

void FlushQueue::flush_all() {
  flush_iotlb();
  free_all_rings();
}

void FlushQueue::free_all_rings() {
  for (auto& ring : rings_) {
    std::lock_guard lock(ring->mu);
    free_flushed_locked(*ring);
  }
}

size_t FlushQueue::pending() const {
  size_t n = 0;
  for (const auto& ring : rings_) {
    std::lock_guard lock(ring->mu);
    n += (ring->tail - ring->head) & (ring->entries.size() - 1);
  }
  return n;
}

FlushQueueStats FlushQueue::stats() const {
  return {.queued = queued_.load(),
          .freed = freed_.load(),
          .full_flushes = full_flushes_.load(),
          .timeout_flushes = timeout_flushes_.load(),
          .flushes = flush_finish_cnt_.load()};
}

}  // namespace iommu::impl
