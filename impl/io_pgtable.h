// The driver boundary, as Linux draws it in include/linux/io-pgtable.h: what a page-table
// format offers (io_pgtable_ops) and what it asks of the IOMMU driver that owns it
// (iommu_flush_ops). impl/'s engine implements IoPgtableOps; the core layer (impl/domain.h)
// drives any IoPgtableOps, ours or a driver under test.
#pragma once

#include <cstdint>

namespace iommu::impl {

// struct iommu_iotlb_gather: leaf invalidations collected by unmap_pages, issued by iotlb_sync.
struct IotlbGather {
  uint64_t start = ~uint64_t{0};
  uint64_t end = 0;  // inclusive
  uint64_t pgsize = 0;
  // iommu_iotlb_gather_queued(): the unmap is in a flush queue, so a page table skips
  // tlb_add_page (a flush_iotlb_all will come before the iova is reused).
  bool queued = false;

  bool empty() const { return pgsize == 0; }
};

// struct iommu_flush_ops.
class FlushOps {
 public:
  virtual ~FlushOps() = default;
  // Synchronous: every cached translation of the context is gone on return.
  virtual void tlb_flush_all() = 0;
  // Synchronous: leaves and intermediate (walk-cache) entries for the range are gone on
  // return. Called before a table page is freed.
  virtual void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) = 0;
  // Queues a leaf invalidation into the gather; the driver may sync early under the gather
  // merge rules (iommu_iotlb_gather_add_page).
  virtual void tlb_add_page(IotlbGather& gather, uint64_t iova, uint64_t granule) = 0;
};

// The sync side of struct iommu_domain_ops, what the core (impl/domain.h) calls after its map
// and unmap loops: an io-pgtable IOMMU driver (impl/iommu_driver.h) or virtio-iommu
// (impl/virtio_iommu.h), whose sync pushes its queued requests to the device.
class IotlbOps {
 public:
  virtual ~IotlbOps() = default;
  virtual void iotlb_sync(IotlbGather& gather) = 0;
  virtual void flush_iotlb_all() = 0;
  virtual void iotlb_sync_map(uint64_t iova, uint64_t size) = 0;
  // A new mapping may stay invisible to a device until iotlb_sync_map covers it.
  virtual bool caches_non_present() const = 0;
};

// struct io_pgtable_ops, with Linux return conventions: 0 or a negative errno from map_pages
// (bytes mapped are added to *mapped even on error), bytes unmapped from unmap_pages (0 when
// nothing is mapped at iova), 0 from iova_to_phys for an unmapped iova.
class IoPgtableOps {
 public:
  virtual ~IoPgtableOps() = default;
  virtual int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                        int prot, uint64_t* mapped) = 0;
  virtual uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                               IotlbGather* gather) = 0;
  virtual uint64_t iova_to_phys(uint64_t iova) = 0;
};

}  // namespace iommu::impl
