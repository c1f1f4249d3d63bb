#include "impl/host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {
namespace {

void* reserve(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

}  // namespace

HostMemory::HostMemory(unsigned oas)
    : base_(bit(std::min(oas, 33u) - 1)), size_(base_), free_(64) {
  if (oas < 13) throw std::invalid_argument("HostMemory: an oas below 13 bits holds no table");
  arena_ = static_cast<uint8_t*>(reserve(size_));
  meta_ = static_cast<uint32_t*>(reserve((size_ >> kChunkShift) * sizeof(uint32_t)));
  size_log2_.resize(size_ >> kChunkShift);
}

HostMemory::~HostMemory() {
  munmap(arena_, size_);
  munmap(meta_, (size_ >> kChunkShift) * sizeof(uint32_t));
}

std::optional<uint64_t> HostMemory::alloc(uint64_t bytes) {
  if (bytes == 0 || bytes > size_) throw std::invalid_argument("HostMemory::alloc: bad size");
  const uint64_t size = std::max(std::bit_ceil(bytes), bit(kChunkShift));
  const unsigned lg = fls64_idx(size);
  std::lock_guard hold(lock_);
  uint64_t paddr = 0;
  if (!free_[lg].empty()) {
    paddr = free_[lg].back();
    free_[lg].pop_back();
    std::memset(arena_ + (paddr - base_), 0, size);
  } else {
    const uint64_t at = (next_ + size - 1) & ~(size - 1);
    if (at + size > size_) return std::nullopt;
    next_ = at + size;
    paddr = base_ + at;  // fresh anonymous memory reads as zero
  }
  meta_[chunk(paddr)] = 0;
  size_log2_[chunk(paddr)] = static_cast<uint8_t>(lg);
  live_bytes_.fetch_add(size, std::memory_order_relaxed);
  return paddr;
}

void HostMemory::free(uint64_t paddr) {
  std::lock_guard hold(lock_);
  const unsigned lg = size_log2_[chunk(paddr)];
  if (lg == 0 || (paddr & (bit(lg) - 1)))
    throw std::logic_error("HostMemory::free: not the start of a live allocation");
  size_log2_[chunk(paddr)] = 0;
  free_[lg].push_back(paddr);
  live_bytes_.fetch_sub(bit(lg), std::memory_order_relaxed);
}

std::span<const uint8_t> HostMemory::allocation_bytes(uint64_t paddr) const {
  const unsigned lg = size_log2_[chunk(paddr)];
  if (lg == 0) return {};
  return {arena_ + (paddr - base_), static_cast<size_t>(bit(lg))};
}

}  // namespace iommu::impl
