// The IOMMU core (drivers/iommu/iommu.c) over any page table: the loops of iommu_map,
// iommu_unmap, iommu_map_sg and friends, driving an IoPgtableOps and the sync side of an IOMMU
// driver (IotlbOps: an io-pgtable IommuDriver, or virtio-iommu) exactly as Linux drives
// io_pgtable_ops and iommu_domain_ops. Results agree with ref::RefDomain op by op.
#pragma once

#include <cstdint>
#include <span>

#include "base/segment.h"
#include "impl/io_pgtable.h"
#include "impl/iommu_driver.h"
#include "ref/config.h"

namespace iommu::impl {

// iommu_pgsize: the page size the next map_pages or unmap_pages call of the core loops uses
// for [iova, iova + size) at paddr (the largest of the bitmap that fits size and that both
// addresses are aligned to), and in *count how many pages of it: all of size, or up to where
// the next larger size of the bitmap could take over. Throws std::logic_error where Linux
// would BUG_ON: size is 0, or no size fits (an address or size below the smallest page).
uint64_t iommu_pgsize(uint64_t pgsize_bitmap, uint64_t iova, uint64_t paddr, uint64_t size,
                      uint64_t* count);

// Stateless beyond its configuration: safe to call from several threads on disjoint ranges
// when the page table and driver are.
class Domain {
 public:
  // Throws ref::ConfigError for an invalid configuration, std::invalid_argument when the
  // driver caches non-present entries but cfg.np_caching says the domain does not.
  Domain(IoPgtableOps& ops, IotlbOps& driver, const ref::DomainConfig& cfg);

  const ref::DomainConfig& config() const { return cfg_; }
  IoPgtableOps& ops() { return ops_; }
  IotlbOps& driver() { return driver_; }

  // iommu_map: 0, or -EINVAL (unaligned) or the page table's error, after unmapping (and
  // syncing) everything this call mapped. Ends with iotlb_sync_map.
  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  // iommu_map_nosync: as map without the final iotlb_sync_map.
  int map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  void iotlb_sync_map(uint64_t iova, uint64_t size) { driver_.iotlb_sync_map(iova, size); }

  // iommu_map_sg: physically contiguous entries merged into runs, each mapped at the next
  // iova, one iotlb_sync_map at the end; bytes mapped, or an errno after unmapping everything.
  // A zero-length entry is -EINVAL once the run before it is mapped (the contract's choice:
  // Linux would drop it, or lose the run it ends when it is the last).
  int64_t map_sg(uint64_t iova, std::span<const Segment> sgl, int prot);

  // iommu_unmap: bytes unmapped, 0 for unaligned input; stops at the first hole; may exceed
  // size when a larger leaf goes whole. Strict: gather + iotlb_sync. Lazy: a queued gather
  // and no sync; the translations stay until flush_iotlb_all.
  uint64_t unmap(uint64_t iova, uint64_t size);
  // iommu_unmap_fast: into the caller's gather, issued by iotlb_sync(gather).
  uint64_t unmap_fast(uint64_t iova, uint64_t size, IotlbGather& gather);
  void iotlb_sync(IotlbGather& gather) { driver_.iotlb_sync(gather); }
  void flush_iotlb_all() { driver_.flush_iotlb_all(); }

  // iommu_iova_to_phys: 0 when unmapped.
  uint64_t iova_to_phys(uint64_t iova) { return ops_.iova_to_phys(iova); }

 private:
  uint64_t unmap_into(uint64_t iova, uint64_t size, IotlbGather& gather);
  // iommu_unmap as the error paths use it: strict even in a lazy domain.
  void unroll(uint64_t iova, uint64_t size);

  IoPgtableOps& ops_;
  IotlbOps& driver_;
  ref::DomainConfig cfg_;
};

}  // namespace iommu::impl
