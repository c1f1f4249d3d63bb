#include "hw/table_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ref/bits.h"

namespace iommu::hw {
namespace {

uint64_t chunk_of(uint64_t paddr) { return paddr / TableMemory::kChunk; }

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

void check_natural(uint64_t paddr, unsigned width) {
  if (!is_aligned(paddr, width))
    throw std::logic_error(fmt::format("misaligned {}-byte table access at {:#x}", width, paddr));
}

uint64_t load_le(const uint8_t* p, unsigned width) {
  uint64_t v = 0;
  for (unsigned i = 0; i < width; i++) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void store_le(uint8_t* p, uint64_t v, unsigned width) {
  for (unsigned i = 0; i < width; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

TableMemory::TableMemory() : TableMemory(Config{}) {}

TableMemory::Config TableMemory::window_for_oas(unsigned oas) {
  if (oas >= 32) return {};
  return {.base = bit(oas - 1), .limit = bit(oas)};
}

TableMemory::TableMemory(Config config) : config_(config), next_(config.base) {
  if (!is_aligned(config.base, kChunk) || config.limit <= config.base)
    throw std::invalid_argument(fmt::format(
        "table memory window [{:#x}, {:#x}) must be non-empty and start {}-byte aligned",
        config.base, config.limit, kChunk));
}

void TableMemory::fail_nth_allocation(uint64_t n) {
  if (n == 0) throw std::invalid_argument("fail_nth_allocation counts from 1");
  fail_at_ = alloc_seq_ + n;
}

bool TableMemory::should_fail(uint64_t size) {
  ++alloc_seq_;
  if (fail_at_ && *fail_at_ == alloc_seq_) {
    fail_at_.reset();
    return true;
  }
  return failure_hook_ && failure_hook_(alloc_seq_, size);
}

std::optional<uint64_t> TableMemory::alloc(uint64_t size, uint64_t align) {
  if (align == 0) align = size;
  if (!is_pow2(size) || !is_pow2(align))
    throw std::invalid_argument(fmt::format(
        "table allocation of {:#x} bytes aligned to {:#x}: both must be powers of two", size,
        align));
  if (should_fail(size)) return std::nullopt;
  // Small tables still own whole chunks so that each chunk has one owner and one state.
  size = std::max(size, kChunk);
  auto paddr = place(size, std::max(align, kChunk));
  if (!paddr) return std::nullopt;
  for (uint64_t c = chunk_of(*paddr); c < chunk_of(*paddr + size); c++) {
    Chunk& chunk = chunks_[c];
    chunk.state = PageState::kAllocated;
    chunk.bytes = std::make_unique<uint8_t[]>(kChunk);
  }
  live_.emplace(*paddr, size);
  return paddr;
}

// Fresh addresses first, so that a dangling pointer keeps pointing at freed memory for as long
// as possible; only when the window is full is the oldest fitting freed range reused.
std::optional<uint64_t> TableMemory::place(uint64_t size, uint64_t align) {
  uint64_t start = align_up(next_, align);
  if (start >= next_ && start + size > start && start + size <= config_.limit) {
    next_ = start + size;
    return start;
  }
  auto it = std::find_if(freed_.begin(), freed_.end(), [&](const Allocation& a) {
    return a.size == size && is_aligned(a.paddr, align);
  });
  if (it == freed_.end()) return std::nullopt;
  uint64_t paddr = it->paddr;
  freed_.erase(it);
  return paddr;
}

void TableMemory::free(uint64_t paddr) {
  auto it = live_.find(paddr);
  if (it == live_.end())
    throw std::logic_error(fmt::format(
        "free of {:#x}, which is not the start of a live table allocation (state: {})", paddr,
        state(paddr) == PageState::kFreed ? "already freed" : "not allocated here"));
  uint64_t size = it->second;
  live_.erase(it);
  for (uint64_t c = chunk_of(paddr); c < chunk_of(paddr + size); c++) {
    Chunk& chunk = chunks_.at(c);
    chunk.state = PageState::kFreed;
    chunk.bytes.reset();
  }
  freed_.push_back({paddr, size});
}

void TableMemory::load(uint64_t paddr, std::span<const uint8_t> bytes) {
  for (uint64_t off = 0; off < bytes.size();) {
    uint64_t c = chunk_of(paddr + off);
    Chunk& chunk = chunks_[c];
    if (!chunk.bytes) chunk.bytes = std::make_unique<uint8_t[]>(kChunk);
    chunk.state = PageState::kAllocated;
    uint64_t in_chunk = (paddr + off) % kChunk;
    uint64_t n = std::min<uint64_t>(kChunk - in_chunk, bytes.size() - off);
    std::memcpy(chunk.bytes.get() + in_chunk, bytes.data() + off, n);
    off += n;
  }
}

PageState TableMemory::state(uint64_t paddr) const {
  auto it = chunks_.find(chunk_of(paddr));
  return it == chunks_.end() ? PageState::kNeverAllocated : it->second.state;
}

const uint8_t* TableMemory::allocated_bytes(uint64_t paddr, unsigned width) const {
  check_natural(paddr, width);
  auto it = chunks_.find(chunk_of(paddr));
  if (it == chunks_.end() || it->second.state != PageState::kAllocated) return nullptr;
  return it->second.bytes.get() + paddr % kChunk;
}

uint8_t* TableMemory::writable_bytes(uint64_t paddr, unsigned width) {
  return const_cast<uint8_t*>(allocated_bytes(paddr, width));
}

std::optional<uint64_t> TableMemory::peek64(uint64_t paddr) const {
  const uint8_t* p = allocated_bytes(paddr, 8);
  if (!p) return std::nullopt;
  return load_le(p, 8);
}

std::optional<uint32_t> TableMemory::peek32(uint64_t paddr) const {
  const uint8_t* p = allocated_bytes(paddr, 4);
  if (!p) return std::nullopt;
  return static_cast<uint32_t>(load_le(p, 4));
}

void TableMemory::record_bad(uint64_t paddr, unsigned width, bool write) {
  bad_accesses_.push_back({paddr, width, write, state(paddr)});
}

uint64_t TableMemory::read64(uint64_t paddr) {
  if (auto v = peek64(paddr)) return *v;
  record_bad(paddr, 8, false);
  return state(paddr) == PageState::kFreed ? kPoison64 : 0;
}

uint32_t TableMemory::read32(uint64_t paddr) {
  if (auto v = peek32(paddr)) return *v;
  record_bad(paddr, 4, false);
  return state(paddr) == PageState::kFreed ? kPoison32 : 0;
}

void TableMemory::write64(uint64_t paddr, uint64_t value) {
  if (uint8_t* p = writable_bytes(paddr, 8))
    store_le(p, value, 8);
  else
    record_bad(paddr, 8, true);
}

void TableMemory::write32(uint64_t paddr, uint32_t value) {
  if (uint8_t* p = writable_bytes(paddr, 4))
    store_le(p, value, 4);
  else
    record_bad(paddr, 4, true);
}

std::vector<Allocation> TableMemory::live_allocations() const {
  std::vector<Allocation> out;
  out.reserve(live_.size());
  for (const auto& [paddr, size] : live_) out.push_back({paddr, size});
  return out;
}

}  // namespace iommu::hw
