// PtEngine: construction, teardown, entry access and iova_to_phys. Included only by the
// engine's instantiation files (pt_engine_*.cc).
#pragma once

#include <fmt/format.h>

#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include "base/bits.h"
#include "impl/pt_engine.h"

namespace iommu::impl {

template <class Mem, class Bug>
PtEngine<Mem, Bug>::PtEngine(const PgtableConfig& cfg, const hw::Format& fmt, Mem& mem,
                             FlushOps& flush, Bug bug)
    : cfg_(cfg),
      f_(make_pt_format(fmt)),
      mem_(mem),
      flush_(flush),
      bug_(bug),
      narrow_(f_.desc_bytes == 4) {
  for (unsigned i = 0; i < f_.n_ttbrs; i++) {
    auto root = alloc_table(f_.start_level);
    if (!root) {
      for (uint64_t r : roots_) mem_.free(r);
      throw std::runtime_error(fmt::format(
          "{}: no table memory for root table {} of {} ({:#x} bytes): widen the table memory "
          "window",
          fmt.name(), i + 1, f_.n_ttbrs, f_.at(f_.start_level).table_bytes));
    }
    roots_.push_back(*root);
  }
}

template <class Mem, class Bug>
PtEngine<Mem, Bug>::~PtEngine() {
  for (uint64_t r : roots_) free_subtree(r, f_.start_level);
}

template <class Mem, class Bug>
bool PtEngine<Mem, Bug>::exchange(uint64_t ptep, uint64_t& expected, uint64_t desired) {
  if (!narrow_) return mem_.compare_exchange64(ptep, expected, desired);
  uint32_t e = static_cast<uint32_t>(expected);
  const bool ok = mem_.compare_exchange32(ptep, e, static_cast<uint32_t>(desired));
  expected = e;
  return ok;
}

template <class Mem, class Bug>
void PtEngine<Mem, Bug>::count_add(uint64_t table, uint32_t n) {
  if (n) mem_.meta(table).fetch_add(n, std::memory_order_relaxed);
}

// True when the table's last live entry went.
template <class Mem, class Bug>
bool PtEngine<Mem, Bug>::count_sub(uint64_t table, uint32_t n) {
  return n && mem_.meta(table).fetch_sub(n, std::memory_order_relaxed) == n;
}

template <class Mem, class Bug>
uint32_t PtEngine<Mem, Bug>::count(uint64_t table) const {
  return const_cast<Mem&>(mem_).meta(table).load(std::memory_order_relaxed);
}

// The largest page size below `size`: what a split leaf is rebuilt from.
template <class Mem, class Bug>
uint64_t PtEngine<Mem, Bug>::next_smaller(uint64_t size) const {
  const uint64_t below = f_.hw->geo().pgsize_bitmap & (size - 1);
  if (!below) throw std::logic_error("split of the smallest page size");
  return bit(fls64_idx(below));
}

// The last iova the root table that translates `iova` covers (a DART TTBR's share of the
// ias, or the whole ias).
template <class Mem, class Bug>
uint64_t PtEngine<Mem, Bug>::top_of_walk(uint64_t iova) const {
  const unsigned top = f_.table_shift(f_.start_level);
  const uint64_t ias_top = low_mask(f_.hw->geo().ias);
  if (top >= 64) return ias_top;
  return std::min(ias_top, iova | low_mask(top));
}

template <class Mem, class Bug>
uint64_t PtEngine<Mem, Bug>::iova_to_phys(uint64_t iova) {
  if (!fits_bits(iova, 1, f_.hw->geo().ias)) return 0;
  std::shared_lock hold(lock_);
  uint64_t table = root_for(iova);
  for (unsigned level = f_.start_level;; level++) {
    const uint64_t desc = load(PtRange(f_, table, level, iova).ptep());
    switch (kind(desc, level)) {
      case PtKind::kEmpty:
        return 0;
      case PtKind::kTable:
        table = f_.oa_of(desc);
        continue;
      case PtKind::kLeaf: {
        const uint64_t size = f_.leaf_size(desc, level);
        const uint64_t offset_mask = bug_(Mutant::kIovaToPhysGranuleMask) ? f_.granule - 1
                                                                          : size - 1;
        return (f_.oa_of(desc) & ~(size - 1)) + (iova & offset_mask);
      }
    }
  }
}

}  // namespace iommu::impl
