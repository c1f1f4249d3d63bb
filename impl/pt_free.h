// Freeing tables. Empty tables found during unmap are freed under the exclusive lock, after a
// fresh walk confirms they are still linked and still empty; each is unlinked, its span's walk
// caches flushed, and only then is its memory freed.
#pragma once

#include <array>
#include <cstring>
#include <mutex>
#include <span>

#include "base/bits.h"
#include "impl/pt_engine.h"

namespace iommu::impl {

// Tables a map allocated and could not use go at once (no residue after -ENOMEM). A table an
// unmap emptied becomes the kept one at its level and the previously kept one goes, if it is
// still empty; the kept one emptying again needs no lock at all.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::free_pending_slow(PtPending& pending) {
  unsigned n = 0;
  for (unsigned i = 0; i < pending.n; i++) {
    const PtPending::Item& it = pending.items[i];
    const uint64_t kept = kept_[it.level].load(std::memory_order_relaxed);
    if (!it.cascade || kept != kept_tag(it.iova, it.level)) pending.items[n++] = it;
  }
  pending.n = 0;
  if (n == 0) return;
  std::unique_lock hold(lock_);
  for (unsigned i = 0; i < n; i++) {
    const PtPending::Item& it = pending.items[i];
    if (!it.cascade) {
      free_if_empty(it.iova, it.level, false);
      continue;
    }
    const uint64_t tag = kept_tag(it.iova, it.level);
    const uint64_t previous = kept_[it.level].exchange(tag, std::memory_order_relaxed);
    if (previous && previous != tag) free_if_empty(previous - 1, it.level, true);
  }
}

template <class Mem, class Bug>
uint64_t PtEngine<Mem, Bug>::kept_tag(uint64_t iova, unsigned level) const {
  return (iova & ~low_mask(f_.table_shift(level))) + 1;
}

// Holding the lock exclusively: no walk runs, so counts and entries are stable. The table at
// `level` on the path to iova goes if it is empty, then (cascade) each parent that becomes
// empty, never the root.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::free_if_empty(uint64_t iova, unsigned level, bool cascade) {
  std::array<uint64_t, hw::kMaxLevels> table{};
  std::array<uint64_t, hw::kMaxLevels> link{};  // the entry pointing at table[l]
  table[f_.start_level] = root_for(iova);
  for (unsigned l = f_.start_level; l < level; l++) {
    link[l + 1] = PtRange(f_, table[l], l, iova).ptep();
    const uint64_t desc = load(link[l + 1]);
    if (kind(desc, l) != PtKind::kTable) return;
    table[l + 1] = f_.oa_of(desc);
  }
  for (unsigned l = level; l > f_.start_level; l--) {
    if (count(table[l]) != 0) return;
    if (!bug_(Mutant::kFreeWithoutUnlink)) {
      store(link[l], 0);
      count_sub(table[l - 1], 1);
    }
    const uint64_t span = bit(f_.table_shift(l));
    if (!bug_(Mutant::kNoFlushWalk)) flush_.tlb_flush_walk(iova & ~(span - 1), span, f_.granule);
    if (!bug_(Mutant::kLeakEmptyTable)) mem_.free(table[l]);
    if (!cascade) return;
  }
}

// Frees a table that nothing links to any more (teardown, or a table that never got linked).
// Nothing else reads or writes it, so its entries are read straight from its bytes, and only
// until its live count of them were seen: a 64K granule's table has 8192 entries.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::free_subtree(uint64_t table, unsigned level) {
  if (level < f_.last_level) {
    const unsigned db = f_.desc_bytes;
    const uint64_t n = f_.at(level).entries();
    std::span<const uint8_t> bytes = mem_.allocation_bytes(table);
    if (bytes.size() < n * db) bytes = {};
    // Memory that is not this live table (after a driver's double free) has no count to
    // trust: every entry is read, through load(), which reports the bad access.
    uint64_t left = bytes.empty() ? n : count(table);
    for (uint64_t i = 0; left && i < n; i++) {
      uint64_t desc = 0;
      if (bytes.empty())
        desc = load(table + i * db);
      else
        std::memcpy(&desc, bytes.data() + i * db, db);  // little-endian, as the tables are
      if (!desc) continue;
      left--;
      if (kind(desc, level) == PtKind::kTable) free_subtree(f_.oa_of(desc), level + 1);
    }
  }
  mem_.free(table);
}

template <class Mem, class Bug>
bool PtEngine<Mem, Bug>::subtree_has_leaf(uint64_t table, unsigned level) const {
  if (count(table) == 0) return false;
  const PtRange r(f_, table, level, 0, 0);
  for (uint64_t i = 0; i < f_.at(level).entries(); i++) {
    const uint64_t desc = load(r.ptep(i));
    const PtKind what = kind(desc, level);
    if (what == PtKind::kLeaf) return true;
    if (what == PtKind::kTable && subtree_has_leaf(f_.oa_of(desc), level + 1)) return true;
  }
  return false;
}

// Unlinks a table holding no leaf from the entry at p (in r's table, translating iova) so that
// a leaf can take its place: clear, flush the walk caches, free. False when the entry changed
// under us.
template <class Mem, class Bug>
bool PtEngine<Mem, Bug>::drop_empty_table(const PtRange& r, uint64_t p, uint64_t iova) {
  uint64_t desc = load(p);
  const PtKind what = kind(desc, r.level);
  if (what == PtKind::kEmpty) return true;
  if (what != PtKind::kTable || !exchange(p, desc, 0)) return false;
  count_sub(r.table, 1);
  const uint64_t span = f_.at(r.level).span();
  flush_.tlb_flush_walk(iova & ~(span - 1), span, f_.granule);
  free_subtree(f_.oa_of(desc), r.level + 1);
  return true;
}

}  // namespace iommu::impl
