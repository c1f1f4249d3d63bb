// Table memory for the production engine: ordinary host memory, no per-access checks. A table
// paddr is an offset into one reserved arena, placed where the format's oas can encode it, so
// a descriptor holds a real address the engine turns back into a pointer with one addition.
// hw::TableMemory is the checked counterpart that `check` uses.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace iommu::impl {

class HostMemory {
 public:
  // The arena for tables a format with this oas can point to: at most 4 GiB, placed in the
  // upper half of the oas (never at paddr 0).
  explicit HostMemory(unsigned oas);
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  // Zeroed memory of at least `bytes`, rounded up to a power of two of at least 1 KiB and
  // aligned to that size; nullopt when the arena is full.
  std::optional<uint64_t> alloc(uint64_t bytes);
  void free(uint64_t paddr);

  uint64_t read64(uint64_t paddr) const { return ref<uint64_t>(paddr).load(kRead); }
  uint32_t read32(uint64_t paddr) const { return ref<uint32_t>(paddr).load(kRead); }
  void write64(uint64_t paddr, uint64_t v) { ref<uint64_t>(paddr).store(v, kWrite); }
  void write32(uint64_t paddr, uint32_t v) { ref<uint32_t>(paddr).store(v, kWrite); }
  bool compare_exchange64(uint64_t paddr, uint64_t& expected, uint64_t desired) {
    return ref<uint64_t>(paddr).compare_exchange_strong(expected, desired);
  }
  bool compare_exchange32(uint64_t paddr, uint32_t& expected, uint32_t desired) {
    return ref<uint32_t>(paddr).compare_exchange_strong(expected, desired);
  }
  // Where the table at `paddr` lives in this process.
  uint8_t* host(uint64_t paddr) const { return arena_ + (paddr - base_); }
  // The owner's word per allocation (the engine's live-entry count).
  std::atomic_ref<uint32_t> meta(uint64_t paddr) { return std::atomic_ref(meta_[chunk(paddr)]); }
  std::span<const uint8_t> allocation_bytes(uint64_t paddr) const;

  // Bytes held by live allocations: what the tables cost.
  uint64_t live_bytes() const { return live_bytes_.load(std::memory_order_relaxed); }

 private:
  static constexpr unsigned kChunkShift = 10;
  static constexpr auto kRead = std::memory_order_acquire;
  static constexpr auto kWrite = std::memory_order_release;

  template <class T>
  std::atomic_ref<T> ref(uint64_t paddr) const {
    return std::atomic_ref(*reinterpret_cast<T*>(host(paddr)));
  }
  uint64_t chunk(uint64_t paddr) const { return (paddr - base_) >> kChunkShift; }

  uint64_t base_ = 0;
  uint64_t size_ = 0;
  uint8_t* arena_ = nullptr;
  uint32_t* meta_ = nullptr;
  std::mutex lock_;  // alloc and free
  uint64_t next_ = 0;  // bump pointer, offset into the arena
  std::vector<std::vector<uint64_t>> free_;  // freed paddrs, by log2(size)
  std::vector<uint8_t> size_log2_;           // by chunk, for free()
  std::atomic<uint64_t> live_bytes_{0};
};

}  // namespace iommu::impl
