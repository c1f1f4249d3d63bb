// The virtio-iommu guest driver (drivers/iommu/virtio-iommu.c) for one domain: map_pages and
// unmap_pages keep the guest's own mapping tree and send MAP and UNMAP requests to the device
// (hw/virtio_iommu.h); iotlb_sync_map, iotlb_sync and flush_iotlb_all are where those
// requests are pushed and waited for. There are no page tables: the core (impl/domain.h)
// drives it through IoPgtableOps and IotlbOps. docs/VIRTIO.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hw/virtio_iommu.h"
#include "impl/io_pgtable.h"
#include "impl/mutant.h"

namespace iommu::impl {

enum class VirtioRequests {
  kSynchronous,  // every request sent and waited for before the call returns (before the seed)
  kQueued,       // requests wait in the queue for iotlb_sync_map, iotlb_sync, flush_iotlb_all
};

struct VirtioConfig {
  VirtioRequests requests = VirtioRequests::kQueued;
  uint64_t pgsize_bitmap = 0;  // the device's page_size_mask
  unsigned ias = 48;           // the device's input range: [0, 2^ias)
  unsigned oas = 48;           // physical addresses the guest may map: [0, 2^oas)
  // The bug zoo's seeded bug in this driver (impl/mutant.h): the kVirtio* ones.
  Mutant bug = Mutant::kNone;
};

struct VirtioStats {
  uint64_t requests = 0;      // MAP and UNMAP requests added
  uint64_t syncs = 0;         // kicks waited for, forced ones included
  uint64_t forced_syncs = 0;  // syncs because the queue was full
};

class VirtioIommu : public IoPgtableOps, public IotlbOps {
 public:
  VirtioIommu(hw::VirtioIommuDevice& device, const VirtioConfig& cfg);

  // One MAP request per page, each a mapping of the device (Linux sends one for the whole
  // run: docs/VIRTIO.md says why not here). 0, -EINVAL, -ERANGE or -EEXIST at the first page
  // that overlaps a guest mapping, with *mapped the bytes before it.
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  // Removes guest mappings from iova on, a mapping that reaches past the request whole, and
  // sends one UNMAP for all of them: bytes removed, 0 for invalid arguments or a hole at iova.
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override;
  // From the guest's tree, as viommu_iova_to_phys.
  uint64_t iova_to_phys(uint64_t iova) override;

  // Queued: push every queued request and wait for it. Synchronous: nothing is queued.
  void iotlb_sync(IotlbGather& gather) override;
  void flush_iotlb_all() override;
  void iotlb_sync_map(uint64_t iova, uint64_t size) override;
  // Queued requests leave a new mapping invisible until its sync.
  bool caches_non_present() const override { return cfg_.requests == VirtioRequests::kQueued; }

  const VirtioConfig& config() const { return cfg_; }
  const VirtioStats& stats() const { return stats_; }
  // Requests the device refused since the last take: the guest's tree and the device's have
  // parted (a correct driver never sees one). Each a sentence.
  std::vector<std::string> take_refusals();

 private:
  struct Mapping {
    uint64_t last, paddr;
    int prot;
  };
  // __viommu_add_req: a full queue is synced first, then the request added.
  void add_request(const hw::VirtioRequest& req);
  void send(const hw::VirtioRequest& req);
  void sync();
  bool overlaps(uint64_t first, uint64_t last) const;

  hw::VirtioIommuDevice& device_;
  VirtioConfig cfg_;
  std::map<uint64_t, Mapping> mappings_;      // the guest's tree, keyed by first iova
  std::vector<hw::VirtioRequest> in_flight_;  // queued since the last sync, for its statuses
  std::vector<std::string> refusals_;
  VirtioStats stats_;
};

}  // namespace iommu::impl
