// A driver's io_pgtable_ops and flush callbacks with every call checked as it happens: the
// return value and *mapped against the outcomes the reference driver model allows, and every
// removed leaf against the tlb_add_page calls the unmap made. The core loop (impl::Domain)
// drives this wrapper, so each driver call is judged where it is made.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hw/table_memory.h"
#include "impl/io_pgtable.h"
#include "ref/pgtable.h"

namespace iommu::conform {

class CheckedPgtable : public impl::IoPgtableOps, public impl::FlushOps {
 public:
  // `flush` receives the driver's flush callbacks after they are recorded.
  // `memory` holds the driver's tables: its failed allocations decide which answers a
  // failing split may give.
  CheckedPgtable(impl::FlushOps& flush, const hw::TableMemory& memory,
                 const ref::DomainConfig& cfg);

  // The driver under test; its flush callbacks must come to this object. A driver that is its
  // own IOMMU (`gathers` false: virtio-iommu) invalidates by its own syncs, not tlb_add_page.
  void attach(impl::IoPgtableOps& driver, bool gathers = true) {
    driver_ = &driver;
    gathers_ = gathers;
  }

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override;
  uint64_t iova_to_phys(uint64_t iova) override { return driver_->iova_to_phys(iova); }

  void tlb_flush_all() override { flush_.tlb_flush_all(); }
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) override;
  void tlb_add_page(impl::IotlbGather& gather, uint64_t iova, uint64_t granule) override;

  // The driver's tables as the reference sees them after every call so far.
  const ref::RefPgtable& shadow() const { return shadow_; }
  // Driver calls that departed from the contract, in order, each a full sentence.
  const std::vector<std::string>& violations() const { return violations_; }
  // The allowed answers the driver gave since the last take, in call order, for the
  // reference to follow (ref::RefDomain::follow).
  std::vector<ref::DriverChoice> take_choices() { return std::exchange(choices_, {}); }
  uint64_t calls() const { return calls_; }

 private:
  void check_gathered(const ref::UnmapPagesCall& call, const std::vector<ref::LeafRun>& removed);
  void violation(std::string what);
  void record(uint64_t iova, uint64_t size);

  impl::FlushOps& flush_;
  const hw::TableMemory& memory_;
  impl::IoPgtableOps* driver_ = nullptr;
  bool gathers_ = true;
  ref::RefPgtable shadow_;
  std::vector<std::pair<uint64_t, uint64_t>> added_;  // tlb_add_page ranges, inclusive
  std::vector<std::string> violations_;
  std::vector<ref::DriverChoice> choices_;
  uint64_t calls_ = 0;
};

}  // namespace iommu::conform
