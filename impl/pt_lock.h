// The engine's lock: any number of walkers (map, unmap, iova_to_phys) or one thread freeing
// empty tables. A walker pays one atomic add to enter and one to leave, inline; the rare
// freer announces itself, waits for the walkers inside to leave, and holds off new ones.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace iommu::impl {

class PtLock {
 public:
  void lock_shared() {
    while (state_.fetch_add(1, std::memory_order_acquire) & kFreer) {
      state_.fetch_sub(1, std::memory_order_relaxed);
      while (state_.load(std::memory_order_relaxed) & kFreer) std::this_thread::yield();
    }
  }
  void unlock_shared() { state_.fetch_sub(1, std::memory_order_release); }

  void lock() {
    while (state_.fetch_or(kFreer, std::memory_order_acquire) & kFreer)
      while (state_.load(std::memory_order_relaxed) & kFreer) std::this_thread::yield();
    while (state_.load(std::memory_order_acquire) != kFreer) std::this_thread::yield();
  }
  void unlock() { state_.fetch_and(~kFreer, std::memory_order_release); }

 private:
  static constexpr uint32_t kFreer = uint32_t{1} << 31;
  std::atomic<uint32_t> state_{0};  // walkers inside, plus kFreer
};

}  // namespace iommu::impl
