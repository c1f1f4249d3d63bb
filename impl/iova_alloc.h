// The IOVA allocator of the DMA layer (drivers/iommu/iova.c): top-down first fit below a
// limit, each range aligned to its size rounded up to a power of two (alloc_iova with
// size_aligned), so a later mapping can use the largest pages its size allows.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace iommu::impl {

struct IovaAllocConfig {
  uint64_t granule = 0x1000;  // allocation unit: the domain's smallest page
  uint64_t first = 0;         // lowest iova handed out; 0 picks one granule (pfn 0 is never used)
  uint64_t last = 0;          // highest iova handed out (inclusive); 0 picks 2^32 - 1
  // Alignment stops growing here; 0 means never, as in Linux. The DMA layer caps it at the
  // largest page size: no mapping can use more, and more only fragments the space.
  uint64_t max_align = 0;
};

// Thread-safe. Live ranges never overlap; a range is live from alloc until free.
class IovaAllocator {
 public:
  // Throws std::invalid_argument for a granule that is not a power of two, or first/last
  // that leave no granule-aligned page.
  explicit IovaAllocator(const IovaAllocConfig& cfg);

  // A size-aligned range of `size` bytes (rounded up to the granule), highest first; nullopt
  // when no free range fits (Linux's -ENOMEM) or size is 0.
  std::optional<uint64_t> alloc(uint64_t size);
  // Returns [iova, iova + size) to the free space. Throws std::logic_error unless it is
  // exactly a live allocation (size rounded up as alloc rounds it).
  void free(uint64_t iova, uint64_t size);

  bool is_live(uint64_t iova, uint64_t size) const;
  uint64_t live_bytes() const;
  size_t live_count() const;
  // Every live range as (iova, size), in iova order.
  std::vector<std::pair<uint64_t, uint64_t>> live() const;

  const IovaAllocConfig& config() const { return cfg_; }
  uint64_t alignment(uint64_t size) const;  // what alloc aligns a range of this size to

 private:
  uint64_t round(uint64_t size) const;
  void insert_free(uint64_t first, uint64_t last);

  IovaAllocConfig cfg_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // first -> last (inclusive), disjoint, not adjacent
  std::map<uint64_t, uint64_t> live_;  // iova -> size
  uint64_t live_bytes_ = 0;
};

}  // namespace iommu::impl
