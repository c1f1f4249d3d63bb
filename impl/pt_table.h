// One table's entries as the engine's inner loops read and write them: a handle made once per
// table and typed by the descriptor's width, so that a loop over its entries costs one memory
// access per entry and no test of the width. Over hw::TableMemory every access is still
// checked; over HostMemory it is a plain load or store.
#pragma once

#include <atomic>
#include <cstdint>

#include "hw/table_memory.h"
#include "impl/host_memory.h"

namespace iommu::impl {

template <class D>
class CheckedTable {
 public:
  CheckedTable(hw::TableMemory& mem, uint64_t paddr) : mem_(&mem), paddr_(paddr) {}
  uint64_t load(uint64_t i) const {
    if constexpr (sizeof(D) == 4) return mem_->read32(paddr_ + i * 4);
    return mem_->read64(paddr_ + i * 8);
  }
  void store(uint64_t i, uint64_t desc) const {
    if constexpr (sizeof(D) == 4)
      mem_->write32(paddr_ + i * 4, static_cast<uint32_t>(desc));
    else
      mem_->write64(paddr_ + i * 8, desc);
  }

 private:
  hw::TableMemory* mem_;
  uint64_t paddr_;
};

template <class D>
class HostTable {
 public:
  HostTable(HostMemory& mem, uint64_t paddr) : entries_(reinterpret_cast<D*>(mem.host(paddr))) {}
  uint64_t load(uint64_t i) const { return std::atomic_ref(entries_[i]).load(kRead); }
  void store(uint64_t i, uint64_t desc) const {
    std::atomic_ref(entries_[i]).store(static_cast<D>(desc), kWrite);
  }

 private:
  static constexpr auto kRead = std::memory_order_acquire;
  static constexpr auto kWrite = std::memory_order_release;
  D* entries_;
};

template <class Mem>
struct PtTableOf;
template <>
struct PtTableOf<hw::TableMemory> {
  template <class D>
  using type = CheckedTable<D>;
};
template <>
struct PtTableOf<HostMemory> {
  template <class D>
  using type = HostTable<D>;
};

}  // namespace iommu::impl
