// PtEngine::map_pages: one recursive walk per run. Each level visits the entries the run
// covers in its table (PtRange); at the leaf level the pages go in with one store each,
// `attrs | oa(paddr)`, the attributes computed once for the whole call.
#pragma once

#include <cerrno>
#include <mutex>
#include <shared_mutex>

#include "base/bits.h"
#include "base/prot.h"
#include "impl/pt_engine.h"

namespace iommu::impl {

// Whole pages of 1 << pg_shift bytes from `start` (aligned to them) to the end of a `bits`-bit
// space. For the full 64 bits, 2^64 - start is ~start + 1, which does not overflow once shifted.
inline uint64_t pages_to_end(uint64_t start, unsigned pg_shift, unsigned bits) {
  if (bits >= 64) return (~start >> pg_shift) + 1;
  return start >> bits ? 0 : ((uint64_t{1} << bits) - start) >> pg_shift;
}

template <class Mem, class Bug>
struct PtEngine<Mem, Bug>::Map {
  uint64_t iova;
  uint64_t paddr;
  uint64_t pgsize;
  uint64_t pages;  // to map, already within the ias and oas
  uint64_t last;   // last byte of the last page
  unsigned level;  // where leaves of pgsize go
  unsigned replicas;
  uint64_t attrs;
  uint64_t done = 0;  // pages mapped
  PtPending& pending;

  uint64_t cur() const { return iova + done * pgsize; }
};

template <class Mem, class Bug>
int PtEngine<Mem, Bug>::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize,
                                  uint64_t pgcount, int prot, uint64_t* mapped) {
  const hw::Geometry& g = f_.hw->geo();
  if (!is_pow2(pgsize) || !(pgsize & g.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova | paddr, pgsize))
    return -EINVAL;
  const unsigned pg_shift = ffs64_idx(pgsize);
  const uint64_t room = std::min(pages_to_end(iova, pg_shift, g.ias),
                                 pages_to_end(paddr, pg_shift, g.oas));
  if (room == 0) return -ERANGE;
  if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;
  if (bug_(Mutant::kWritableReadOnly)) prot |= IOMMU_WRITE;

  const uint64_t pages = std::min(pgcount, room);
  const unsigned level = f_.leaf_level(pgsize);
  PtPending pending;
  Map m{.iova = iova,
        .paddr = paddr,
        .pgsize = pgsize,
        .pages = pages,
        .last = iova + (pages - 1) * pgsize + (pgsize - 1),
        .level = level,
        .replicas = f_.replicas(pgsize),
        .attrs = f_.codec->leaf_attrs(f_, prot, level, pgsize),
        .pending = pending};
  int ret = 0;
  {
    std::shared_lock hold(lock_);
    while (m.done < m.pages && !ret) ret = map_level(root_for(m.cur()), f_.start_level, m);
  }
  free_pending(pending);
  if (mapped) *mapped += m.done * pgsize;
  if (ret) return ret;
  return pages < pgcount ? -ERANGE : 0;
}

// Maps the run from m.cur() on, as far as this table reaches.
template <class Mem, class Bug>
int PtEngine<Mem, Bug>::map_level(uint64_t table, unsigned level, Map& m) {
  PtRange r(f_, table, level, m.cur(), m.last);
  if (level == m.level) return fill_leaves(r, m);
  for (; r.index < r.end; r.index++) {
    uint64_t child = 0;
    bool ours = false;
    if (int err = child_for_map(r, child, ours)) return err;
    const uint64_t iova = m.cur();
    if (int err = map_level(child, level + 1, m)) {
      // A table this call installed and left empty goes again: no residue after an error.
      if (ours) m.pending.push(iova, level + 1, false);
      return err;
    }
  }
  return 0;
}

// The table below the entry r points at, installing a missing one with a compare-exchange so
// that concurrent mappers of neighbouring ranges agree on one (the loser frees its own):
// 0, -ENOMEM, or -EEXIST when the entry is a leaf.
template <class Mem, class Bug>
int PtEngine<Mem, Bug>::child_for_map(const PtRange& r, uint64_t& child, bool& ours) {
  const uint64_t p = r.ptep();
  uint64_t desc = load(p);
  while (kind(desc, r.level) == PtKind::kEmpty) {
    auto fresh = alloc_table(r.level + 1);
    if (!fresh) return -ENOMEM;
    const uint64_t table_desc = f_.table_desc(*fresh, r.level);
    const bool installed = bug_(Mutant::kRacyTableInstall) ? (store(p, table_desc), true)
                                                           : exchange(p, desc, table_desc);
    if (installed) {
      count_add(r.table, 1);
      child = *fresh;
      ours = true;
      return 0;
    }
    mem_.free(*fresh);
  }
  if (kind(desc, r.level) != PtKind::kTable) return -EEXIST;
  child = f_.oa_of(desc);
  return 0;
}

// Writes the run's pages into the leaf table r up to its end; -EEXIST at the first busy slot.
template <class Mem, class Bug>
int PtEngine<Mem, Bug>::fill_leaves(PtRange& r, Map& m) {
  if (bug_(Mutant::kConcatPgdEntriesLeft) && r.level == f_.start_level) {
    // One table's worth of entries, as if the PGD were not concatenated: past the first
    // table "entries left" goes negative and so does the count mapped.
    const uint64_t per_table = f_.granule / f_.desc_bytes;
    if (r.index >= per_table) {
      m.done -= r.index - per_table + 1;
      return 0;
    }
    r.end = std::min(r.end, per_table);
  }
  return narrow_ ? fill_run<uint32_t>(r, m) : fill_run<uint64_t>(r, m);
}

// fill_leaves for one descriptor width. Pages of one entry go in with one store each while
// their slots are empty; the first busy slot, and every page of several entries, takes the
// general loop, which asks claim_slot.
template <class Mem, class Bug>
template <class D>
int PtEngine<Mem, Bug>::fill_run(PtRange& r, Map& m) {
  const unsigned replicas = m.replicas;
  const unsigned copies = bug_(Mutant::kV7sSingleReplica) ? 1 : replicas;
  // Locals, not members: the stores below could alias them and force reloads.
  const Table<D> t = table_at<D>(r.table);
  const PtOa oa = f_.oa_field;
  const uint64_t attrs = m.attrs, pgsize = m.pgsize, end = r.end;
  uint64_t i = r.index, done = m.done;
  uint64_t pa = m.paddr + done * pgsize;
  if (replicas == 1) {
    for (; i < end && t.load(i) == 0; i++, pa += pgsize) t.store(i, attrs | oa.encode(pa));
    done += i - r.index;
  }
  int ret = 0;
  for (; i < end; i += replicas, pa += pgsize) {
    if ((t.load(i) != 0 || replicas > 1) &&
        (ret = claim_slot(r, r.ptep(i), m.iova + done * pgsize, replicas)))
      break;
    const uint64_t desc = attrs | oa.encode(pa);
    for (unsigned k = 0; k < copies; k++) t.store(i + k, desc);
    done++;
  }
  count_add(r.table, static_cast<uint32_t>((done - m.done) * replicas));
  m.done = done;
  return ret;
}

// Whether the entries of one leaf may take it: empty, or holding only tables with no leaf
// below, which are unlinked and freed first (as Linux LPAE does before a block).
template <class Mem, class Bug>
int PtEngine<Mem, Bug>::claim_slot(const PtRange& r, uint64_t p, uint64_t iova,
                                   unsigned replicas) {
  if (bug_(Mutant::kNoEexist)) return 0;
  const unsigned db = f_.desc_bytes;
  bool empty = true;
  for (unsigned k = 0; k < replicas; k++) {
    const uint64_t desc = load(p + k * db);
    const PtKind what = kind(desc, r.level);
    if (what == PtKind::kLeaf) return -EEXIST;
    if (what == PtKind::kTable && subtree_has_leaf(f_.oa_of(desc), r.level + 1)) return -EEXIST;
    empty = empty && what == PtKind::kEmpty;
  }
  if (empty) return 0;
  const uint64_t span = f_.at(r.level).span();
  for (unsigned k = 0; k < replicas; k++)
    if (!drop_empty_table(r, p + k * db, iova + k * span)) return -EEXIST;
  return 0;
}

}  // namespace iommu::impl
