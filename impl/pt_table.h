// One table's entries as the engine's inner loops read and write them: a handle made once per
// table, so that a loop over its entries costs one memory access per entry. Over
// hw::TableMemory every access is still checked; over HostMemory it is a plain load or store.
#pragma once

#include <atomic>
#include <cstdint>

#include "hw/table_memory.h"
#include "impl/host_memory.h"

namespace iommu::impl {

class CheckedTable {
 public:
  CheckedTable(hw::TableMemory& mem, uint64_t paddr, bool narrow)
      : mem_(&mem), paddr_(paddr), narrow_(narrow) {}
  uint64_t load(uint64_t i) const {
    return narrow_ ? mem_->read32(paddr_ + i * 4) : mem_->read64(paddr_ + i * 8);
  }
  void store(uint64_t i, uint64_t desc) const {
    if (narrow_)
      mem_->write32(paddr_ + i * 4, static_cast<uint32_t>(desc));
    else
      mem_->write64(paddr_ + i * 8, desc);
  }

 private:
  hw::TableMemory* mem_;
  uint64_t paddr_;
  bool narrow_;
};

class HostTable {
 public:
  HostTable(HostMemory& mem, uint64_t paddr, bool narrow)
      : host_(mem.host(paddr)), narrow_(narrow) {}
  uint64_t load(uint64_t i) const {
    if (narrow_) return std::atomic_ref(reinterpret_cast<uint32_t*>(host_)[i]).load(kRead);
    return std::atomic_ref(reinterpret_cast<uint64_t*>(host_)[i]).load(kRead);
  }
  void store(uint64_t i, uint64_t desc) const {
    if (narrow_)
      std::atomic_ref(reinterpret_cast<uint32_t*>(host_)[i]).store(static_cast<uint32_t>(desc),
                                                                   kWrite);
    else
      std::atomic_ref(reinterpret_cast<uint64_t*>(host_)[i]).store(desc, kWrite);
  }

 private:
  static constexpr auto kRead = std::memory_order_acquire;
  static constexpr auto kWrite = std::memory_order_release;
  uint8_t* host_;
  bool narrow_;
};

template <class Mem>
struct PtTableOf;
template <>
struct PtTableOf<hw::TableMemory> {
  using type = CheckedTable;
};
template <>
struct PtTableOf<HostMemory> {
  using type = HostTable;
};

}  // namespace iommu::impl
