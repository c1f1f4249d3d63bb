// A virtio-iommu device (virtio specification 5.13) as the host implements it: no page tables,
// only the host's mapping tree, one entry per MAP request. The guest adds requests to a request
// queue of bounded size; they take effect only when the guest kicks the queue and waits for
// their completion (a sync, a VM exit on real hardware), in queue order. A device access sees
// the tree as the last sync left it.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

namespace iommu::hw {

// struct virtio_iommu_req_map / _unmap, one domain, the fields the device reads.
struct VirtioRequest {
  enum class Type { kMap, kUnmap } type = Type::kMap;
  uint64_t virt_start = 0;
  uint64_t virt_end = 0;    // inclusive
  uint64_t phys_start = 0;  // MAP only
  uint32_t flags = 0;       // MAP only: VIRTIO_IOMMU_MAP_F_*
};

inline constexpr uint32_t kVirtioMapRead = 1;   // VIRTIO_IOMMU_MAP_F_READ
inline constexpr uint32_t kVirtioMapWrite = 2;  // VIRTIO_IOMMU_MAP_F_WRITE
inline constexpr uint32_t kVirtioMapMmio = 4;   // VIRTIO_IOMMU_MAP_F_MMIO

// VIRTIO_IOMMU_S_*: the status the device writes back into each request.
enum class VirtioStatus { kOk, kInval, kRange };

struct VirtioMapping {
  uint64_t first = 0, last = 0;  // inclusive iova range
  uint64_t paddr = 0;
  uint32_t flags = 0;
  bool operator==(const VirtioMapping&) const = default;
};

struct VirtioDeviceStats {
  uint64_t requests = 0;  // requests completed
  uint64_t syncs = 0;     // kicks that completed at least one request
};

class VirtioIommuDevice {
 public:
  // Throws std::invalid_argument for a queue of size 0.
  explicit VirtioIommuDevice(size_t queue_size);

  // virtqueue_add_sgs: false (-ENOSPC) when the queue already holds queue_size requests.
  bool add(const VirtioRequest& req);
  // virtqueue_kick and wait: every queued request takes effect in order; their statuses.
  std::vector<VirtioStatus> sync();

  size_t queued() const { return queue_.size(); }
  size_t queue_size() const { return queue_size_; }
  const VirtioDeviceStats& stats() const { return stats_; }

  // The mapping a device access to iova goes through, as of the last sync.
  std::optional<VirtioMapping> lookup(uint64_t iova) const;
  // Every mapping, in iova order.
  std::vector<VirtioMapping> mappings() const;
  // The first `max` mappings intersecting [first, last], in iova order.
  std::vector<VirtioMapping> mappings_in(uint64_t first, uint64_t last, size_t max) const;

 private:
  VirtioStatus map(const VirtioRequest& req);
  VirtioStatus unmap(const VirtioRequest& req);

  size_t queue_size_;
  std::vector<VirtioRequest> queue_;
  std::map<uint64_t, VirtioMapping> tree_;  // keyed by first iova; disjoint
  VirtioDeviceStats stats_;
};

}  // namespace iommu::hw
