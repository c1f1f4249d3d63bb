#include "impl/iova_alloc.h"

#include <fmt/core.h>

#include <bit>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {
namespace {

constexpr uint64_t kDefaultLast = (uint64_t{1} << 32) - 1;

IovaAllocConfig resolve(IovaAllocConfig cfg) {
  if (!is_pow2(cfg.granule))
    throw std::invalid_argument(fmt::format("IOVA granule {:#x} is not a power of two", cfg.granule));
  if (cfg.first == 0) cfg.first = cfg.granule;
  if (cfg.last == 0) cfg.last = kDefaultLast;
  if (cfg.max_align != 0 && !is_pow2(cfg.max_align))
    throw std::invalid_argument(fmt::format("IOVA max_align {:#x} is not a power of two", cfg.max_align));
  if (!is_aligned(cfg.first, cfg.granule) || cfg.last < cfg.first ||
      cfg.last - cfg.first < cfg.granule - 1) {
    throw std::invalid_argument(fmt::format(
        "IOVA space [{:#x}, {:#x}] holds no whole {:#x}-byte page aligned to it", cfg.first,
        cfg.last, cfg.granule));
  }
  return cfg;
}

}  // namespace

IovaAllocator::IovaAllocator(const IovaAllocConfig& cfg) : cfg_(resolve(cfg)) {
  // Only whole granules are handed out: a partial page at the top is dropped.
  const uint64_t top_page = cfg_.first + ((cfg_.last - cfg_.first - (cfg_.granule - 1)) & ~(cfg_.granule - 1));
  free_.emplace(cfg_.first, top_page + (cfg_.granule - 1));
}

uint64_t IovaAllocator::round(uint64_t size) const {
  const uint64_t mask = cfg_.granule - 1;
  return size > ~mask ? 0 : (size + mask) & ~mask;
}

uint64_t IovaAllocator::alignment(uint64_t size) const {
  const uint64_t rounded = round(size);
  uint64_t align = rounded > bit(63) ? bit(63) : std::bit_ceil(std::max(rounded, cfg_.granule));
  if (cfg_.max_align != 0 && align > cfg_.max_align) align = std::max(cfg_.max_align, cfg_.granule);
  return align;
}

std::optional<uint64_t> IovaAllocator::alloc(uint64_t size) {
  const uint64_t want = round(size);
  if (want == 0) return std::nullopt;
  const uint64_t align = alignment(want);
  std::lock_guard lock(mu_);
  for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
    const uint64_t first = it->first, last = it->second;
    if (last - first < want - 1) continue;
    const uint64_t iova = (last - (want - 1)) & ~(align - 1);
    if (iova < first) continue;
    free_.erase(first);
    if (iova > first) free_.emplace(first, iova - 1);
    if (iova + (want - 1) < last) free_.emplace(iova + want, last);
    live_.emplace(iova, want);
    live_bytes_ += want;
    return iova;
  }
  return std::nullopt;
}

void IovaAllocator::free(uint64_t iova, uint64_t size) {
  const uint64_t want = round(size);
  std::lock_guard lock(mu_);
  const auto it = live_.find(iova);
  if (it == live_.end() || it->second != want) {
    throw std::logic_error(fmt::format(
        "freeing IOVA range {:#x} + {:#x}, which is not a live allocation{}", iova, want,
        it == live_.end() ? "" : fmt::format(" (that one is {:#x} bytes)", it->second)));
  }
  live_.erase(it);
  live_bytes_ -= want;
  insert_free(iova, iova + (want - 1));
}

void IovaAllocator::insert_free(uint64_t first, uint64_t last) {
  auto next = free_.upper_bound(first);
  if (next != free_.end() && last + 1 == next->first) {
    last = next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->second + 1 == first) {
      prev->second = last;
      return;
    }
  }
  free_.emplace(first, last);
}

bool IovaAllocator::is_live(uint64_t iova, uint64_t size) const {
  std::lock_guard lock(mu_);
  const auto it = live_.find(iova);
  return it != live_.end() && it->second == round(size);
}

uint64_t IovaAllocator::live_bytes() const {
  std::lock_guard lock(mu_);
  return live_bytes_;
}

size_t IovaAllocator::live_count() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

std::vector<std::pair<uint64_t, uint64_t>> IovaAllocator::live() const {
  std::lock_guard lock(mu_);
  return {live_.begin(), live_.end()};
}

}  // namespace iommu::impl
