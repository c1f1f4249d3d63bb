// A device behind the IOMMU. Each access translates as hardware does: the IOTLB first, then
// the walk cache, then a walk from the root, filling both caches from what it read. So a
// stale leaf, a cached "not present" or a cached pointer to a freed table really is used, and
// only invalidation commands completed by a sync take them away.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hw/format.h"
#include "hw/invalidation_queue.h"
#include "hw/iotlb.h"
#include "hw/table_memory.h"
#include "hw/translation.h"
#include "hw/walk_cache.h"
#include "hw/walker.h"

namespace iommu::hw {

struct DeviceConfig {
  ContextId ctx = 0;  // the ASID/VMID/domain id the driver's commands must name
  IotlbConfig iotlb{};
  CacheConfig walk_cache{};
};

// Where a translation came from.
enum class Source { kIotlb, kWalkCache, kWalk };

std::string_view source_name(Source s);

struct AccessResult {
  Source source = Source::kWalk;
  std::optional<Leaf> leaf{};    // the translation used, also when it denied the access
  std::optional<Fault> fault{};  // why the access did not go through

  bool ok() const { return !fault.has_value(); }
  // The output address of an access that went through.
  uint64_t paddr(uint64_t iova) const { return leaf->paddr_base + (iova - leaf->iova_base); }
};

class Device {
 public:
  Device(const TableMemory& mem, const Format& fmt, DeviceConfig cfg = {});
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // The root tables (one per TTBR for DART); an iova whose TTBR is missing faults.
  void set_roots(std::span<const uint64_t> roots);

  // One access, as the hardware performs it: uses the first cached entry it finds and fills
  // the caches on a miss.
  AccessResult translate(uint64_t iova, const Access& access);
  // Every outcome the hardware may produce for this access now, without changing the caches:
  // any IOTLB entry holding iova, a walk resumed from any cached table descriptor, or a walk
  // from the root. An adversary (or a real cache's replacement policy) picks among them.
  std::vector<AccessResult> possible(uint64_t iova, const Access& access) const;

  // Where the driver's invalidation commands go; they take effect at the next sync.
  InvalidationSink& invalidation() { return queue_; }
  size_t pending_commands() const { return queue_.pending(); }

  const Iotlb& iotlb() const { return iotlb_; }
  const WalkCache& walk_cache() const { return walk_cache_; }
  const Format& format() const { return fmt_; }

 private:
  WalkResult walk_root(uint64_t iova) const;
  AccessResult finish(Source source, const WalkResult& walk, const Access& access) const;
  void fill(uint64_t iova, const WalkResult& walk);

  const TableMemory& mem_;
  const Format fmt_;
  DeviceConfig cfg_;
  std::vector<uint64_t> roots_;
  Iotlb iotlb_;
  WalkCache walk_cache_;
  InvalidationQueue queue_;
};

}  // namespace iommu::hw
