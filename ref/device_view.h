// What a device may observe at an IOVA (SEMANTICS.md, "Flush visibility"): the current
// translation once visible, translations whose invalidation has not completed, and a fault
// wherever nothing visible is mapped.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace iommu::ref {

// A device access as the checker issues it.
struct DeviceAccess {
  bool write = false;
  bool exec = false;
  bool priv = false;
};

// Whether a translation mapped with Linux `prot` may let `access` through.
bool prot_permits(int prot, const DeviceAccess& access);

struct Observation {
  uint64_t paddr = 0;  // the physical address this iova reaches
  int prot = 0;
  bool operator==(const Observation&) const = default;
};

struct DeviceView {
  std::optional<Observation> current{};  // the live mapping
  std::vector<Observation> stale{};    // unmapped, invalidation not yet complete
  bool may_fault = true;               // nothing visible mapped, or not yet iotlb_sync_map'ed

  // A device faulted on `access`: allowed unless the current mapping must let it through.
  bool allows_fault(const DeviceAccess& access) const;
  // A device reached `paddr` with `access`: allowed if some observable translation grants it.
  bool allows_translation(uint64_t paddr, const DeviceAccess& access) const;
};

// Identifies the gather an unmap_fast adds to; kFlushQueue is the lazy domain's queue.
using GatherId = uint32_t;
inline constexpr GatherId kFlushQueue = 0;

// Translations removed from the table whose invalidation has not completed.
class StaleSet {
 public:
  void add(uint64_t first, uint64_t last, uint64_t paddr, int prot, GatherId gather);
  void complete(GatherId gather);  // iotlb_sync of that gather
  void clear() { entries_.clear(); }
  void observe(uint64_t iova, std::vector<Observation>& out) const;
  bool intersects(uint64_t first, uint64_t last) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t last;
    uint64_t paddr;
    int prot;
    GatherId gather;
  };
  template <class F>
  void for_each_intersecting(uint64_t first, uint64_t last, F&& f) const;

  std::multimap<uint64_t, Entry> entries_;  // keyed by first iova
  uint64_t max_span_ = 0;                   // longest entry minus one: bounds the lookup
};

// Disjoint inclusive ranges: mappings made but not yet published by iotlb_sync_map.
class IntervalSet {
 public:
  void add(uint64_t first, uint64_t last);
  void subtract(uint64_t first, uint64_t last);
  bool contains(uint64_t x) const;
  bool empty() const { return ranges_.empty(); }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // first -> last
};

}  // namespace iommu::ref
