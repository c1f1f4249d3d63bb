// Freeing tables. Empty tables found during unmap are freed under the exclusive lock, after a
// fresh walk confirms they are still linked and still empty; each is unlinked, its span's walk
// caches flushed, and only then is its memory freed.
#include <array>
#include <cstring>
#include <mutex>
#include <span>

#include "base/bits.h"
#include "impl/mutant.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {
namespace {

uint64_t entry_at(std::span<const uint8_t> bytes, uint64_t i, unsigned db) {
  if (db == 4) {
    uint32_t v;
    std::memcpy(&v, bytes.data() + i * 4, 4);
    return v;
  }
  uint64_t v;
  std::memcpy(&v, bytes.data() + i * 8, 8);
  return v;
}

}  // namespace

// Tables a map allocated and could not use go at once (no residue after -ENOMEM). A table an
// unmap emptied becomes the kept one at its level and the previously kept one goes, if it is
// still empty; the kept one emptying again needs no lock at all.
void Pgtable::free_pending(Pending& pending) {
  unsigned n = 0;
  for (unsigned i = 0; i < pending.n; i++) {
    const Pending::Item& it = pending.items[i];
    const uint64_t kept = kept_[it.level].load(std::memory_order_relaxed);
    if (!it.cascade || kept != kept_tag(it.iova, it.level)) pending.items[n++] = it;
  }
  pending.n = 0;
  if (n == 0) return;
  std::unique_lock lock(lock_);
  for (unsigned i = 0; i < n; i++) {
    const Pending::Item& it = pending.items[i];
    if (!it.cascade) {
      free_if_empty(it.iova, it.level, false);
      continue;
    }
    const uint64_t tag = kept_tag(it.iova, it.level);
    const uint64_t previous = kept_[it.level].exchange(tag, std::memory_order_relaxed);
    if (previous && previous != tag) free_if_empty(previous - 1, it.level, true);
  }
}

uint64_t Pgtable::kept_tag(uint64_t iova, unsigned level) const {
  return (iova & ~(bit(table_shift(level)) - 1)) + 1;
}

// Holding the lock exclusively: no walk runs, so counts and entries are stable. The table at
// `level` on the path to iova goes if it is empty, then (cascade) each parent that becomes
// empty, never the root.
void Pgtable::free_if_empty(uint64_t iova, unsigned level, bool cascade) {
  const hw::Geometry& g = fmt_.geo();
  std::array<uint64_t, hw::kMaxLevels> table{};
  std::array<uint64_t, hw::kMaxLevels> link{};  // the entry pointing at table[l]
  table[g.start_level] = root_for(iova);
  for (unsigned l = g.start_level; l < level; l++) {
    link[l + 1] = ptep(table[l], l, iova);
    const hw::Decoded d = decode(load(link[l + 1]), l);
    if (d.kind != hw::DescKind::kTable) return;
    table[l + 1] = d.paddr;
  }
  for (unsigned l = level; l > g.start_level; l--) {
    if (mem_.meta(table[l]).load(std::memory_order_relaxed) != 0) return;
    if (!bug(Mutant::kFreeWithoutUnlink)) {
      store(link[l], 0);
      count_sub(table[l - 1], 1);
    }
    const uint64_t span = bit(table_shift(l));
    if (!bug(Mutant::kNoFlushWalk)) flush_.tlb_flush_walk(iova & ~(span - 1), span, g.granule);
    if (!bug(Mutant::kLeakEmptyTable)) mem_.free(table[l]);
    if (!cascade) return;
  }
}

// Frees a table that nothing links to any more (teardown, or a table that never got linked).
// Nothing else reads or writes it, so its entries are read straight from its bytes, and only
// until its live count of them were seen: a 64K granule's table has 8192 entries.
void Pgtable::free_subtree(uint64_t table, unsigned level) {
  if (fmt_.geo().at(level).has_tables) {
    const unsigned db = fmt_.geo().desc_bytes;
    const uint64_t n = entries(level);
    std::span<const uint8_t> bytes = mem_.allocation_bytes(table);
    if (bytes.size() < n * db) bytes = {};
    // Memory that is not this live table (after a driver's double free) has no count to
    // trust: every entry is read, through load(), which reports the bad access.
    uint64_t left = bytes.empty() ? n : mem_.meta(table).load(std::memory_order_relaxed);
    for (uint64_t i = 0; left && i < n; i++) {
      const uint64_t desc = bytes.empty() ? load(table + i * db) : entry_at(bytes, i, db);
      if (!desc) continue;
      left--;
      const hw::Decoded d = decode(desc, level);
      if (d.kind == hw::DescKind::kTable) free_subtree(d.paddr, level + 1);
    }
  }
  mem_.free(table);
}

bool Pgtable::subtree_has_leaf(uint64_t table, unsigned level) const {
  if (mem_.meta(table).load(std::memory_order_relaxed) == 0) return false;
  const unsigned db = fmt_.geo().desc_bytes;
  for (uint64_t i = 0; i < entries(level); i++) {
    const hw::Decoded d = decode(load(table + i * db), level);
    if (d.kind == hw::DescKind::kLeaf) return true;
    if (d.kind == hw::DescKind::kTable && subtree_has_leaf(d.paddr, level + 1)) return true;
  }
  return false;
}

// Unlinks a table holding no leaf from the entry at p (in `parent`, at `level`, translating
// iova) so that a leaf can take its place: clear, flush the walk caches, free. False when the
// entry changed under us.
bool Pgtable::drop_empty_table(uint64_t parent, unsigned level, uint64_t p, uint64_t iova) {
  uint64_t desc = load(p);
  const hw::Decoded d = decode(desc, level);
  if (d.kind == hw::DescKind::kEmpty) return true;
  if (d.kind != hw::DescKind::kTable || !exchange(p, desc, 0)) return false;
  count_sub(parent, 1);
  const uint64_t span = bit(fmt_.geo().at(level).shift);
  flush_.tlb_flush_walk(iova & ~(span - 1), span, fmt_.geo().granule);
  free_subtree(d.paddr, level + 1);
  return true;
}

}  // namespace iommu::impl
