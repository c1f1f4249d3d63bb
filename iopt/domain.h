// What the storage asks of an iommu_domain: iommu_map, iommu_unmap and iommu_iova_to_phys.
// CoreDomain puts impl/'s IOMMU core (impl::Domain) in front of any io_pgtable_ops, ours or a
// driver under test, so any page table can be attached to an IO address space.
#pragma once

#include <cstdint>

#include "impl/domain.h"

namespace iommu::iopt {

class IoDomain {
 public:
  virtual ~IoDomain() = default;
  // iommu_map: 0 or a negative errno, with nothing of this call left mapped on error.
  virtual int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) = 0;
  // iommu_unmap: bytes unmapped.
  virtual uint64_t unmap(uint64_t iova, uint64_t size) = 0;
  // iommu_iova_to_phys: 0 when unmapped.
  virtual uint64_t iova_to_phys(uint64_t iova) = 0;
  virtual uint64_t pgsize_bitmap() const = 0;
  // Input address bits: the domain translates iovas below 2^ias.
  virtual unsigned ias() const = 0;
};

class CoreDomain : public IoDomain {
 public:
  explicit CoreDomain(impl::Domain& domain) : domain_(domain) {}
  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) override {
    return domain_.map(iova, paddr, size, prot);
  }
  uint64_t unmap(uint64_t iova, uint64_t size) override { return domain_.unmap(iova, size); }
  uint64_t iova_to_phys(uint64_t iova) override { return domain_.iova_to_phys(iova); }
  uint64_t pgsize_bitmap() const override { return domain_.config().pgsize_bitmap; }
  unsigned ias() const override { return domain_.config().ias; }

 private:
  impl::Domain& domain_;
};

}  // namespace iommu::iopt
