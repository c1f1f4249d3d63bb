// PtEngine::unmap_pages and splits. From iova on, whole leaves inside the request are cleared
// (each leaf table's run in a tight loop) until the request ends or a hole; a leaf the request
// covers only partly is split, taken whole or refused as configured.
#pragma once

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "base/bits.h"
#include "impl/pt_engine.h"

namespace iommu::impl {

template <class Mem, class Bug>
struct PtEngine<Mem, Bug>::Unmap {
  uint64_t cur;
  uint64_t last;  // last byte of the request, within the ias
  IotlbGather* gather;
  uint64_t bytes = 0;
  bool done = false;
  PtPending& pending;
};

// What a split keeps: the leaf being cut (for its attributes) and the part that goes.
template <class Mem, class Bug>
struct PtEngine<Mem, Bug>::Cut {
  uint64_t desc;
  unsigned level;
  uint64_t lo, hi;

  bool removes(uint64_t first, uint64_t last) const { return first >= lo && last <= hi; }
  bool misses(uint64_t first, uint64_t last) const { return last < lo || first > hi; }
};

template <class Mem, class Bug>
uint64_t PtEngine<Mem, Bug>::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                                         IotlbGather* gather) {
  const hw::Geometry& g = f_.hw->geo();
  if (!is_pow2(pgsize) || !(pgsize & g.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova, pgsize) || pages_to_end(iova, ffs64_idx(pgsize), g.ias) == 0)
    return 0;
  __extension__ using u128 = unsigned __int128;
  const u128 end = u128{iova} + u128{pgcount} * pgsize;  // may pass 2^64
  const uint64_t ias_top = low_mask(g.ias);
  const uint64_t last = end - 1 > ias_top ? ias_top : static_cast<uint64_t>(end - 1);
  PtPending pending;
  Unmap u{.cur = iova, .last = last, .gather = gather, .pending = pending};
  // Empty tables are freed under the exclusive lock between rounds of shared work.
  while (!u.done) {
    {
      std::shared_lock hold(lock_);
      while (!u.done && !u.pending.full()) unmap_level(root_for(u.cur), f_.start_level, u);
    }
    free_pending(pending);
  }
  return u.bytes;
}

// Unmaps from u.cur on, as far as this table reaches.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::unmap_level(uint64_t table, unsigned level, Unmap& u) {
  const unsigned top = f_.table_shift(level);
  const uint64_t tag = top >= 64 ? 0 : u.cur >> top;
  while (!u.done && !u.pending.full() && (top >= 64 || u.cur >> top == tag)) {
    PtRange r(f_, table, level, u.cur);
    const uint64_t desc = load(r.ptep());
    switch (kind(desc, level)) {
      case PtKind::kEmpty:
        if (bug_(Mutant::kUnmapEmptyErrno) && u.bytes == 0) u.bytes = static_cast<uint64_t>(-EINVAL);
        u.done = true;  // a hole
        return;
      case PtKind::kTable:
        unmap_level(f_.oa_of(desc), level + 1, u);
        break;
      case PtKind::kLeaf: {
        const uint64_t size = f_.leaf_size(desc, level);
        if ((u.cur & (size - 1)) == 0 && u.last - u.cur >= size - 1)
          clear_leaves(r, u);
        else
          unmap_partial(r, desc, size, u);
        break;
      }
    }
  }
}

// Clears whole leaves from r on in its table while they lie inside the request.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::clear_leaves(PtRange& r, Unmap& u) {
  if (narrow_)
    clear_run<uint32_t>(r, u);
  else
    clear_run<uint64_t>(r, u);
}

// clear_leaves for one descriptor width. Leaves of one entry, the common case, go first in a
// loop that knows up front how many the request and the table hold; anything else (a hole, a
// table, a contiguous leaf, a leaf the request covers only partly) takes the general loop.
template <class Mem, class Bug>
template <class D>
void PtEngine<Mem, Bug>::clear_run(PtRange& r, Unmap& u) {
  // Locals, not members or u's fields: the stores below could alias them and force a reload
  // and a store of each on every entry.
  const PtLevel lvl = f_.at(r.level);
  const uint64_t entries = lvl.entries(), last = u.last;
  const Table<D> t = table_at<D>(r.table);
  IotlbGather* const gather = u.gather && !u.gather->queued ? u.gather : nullptr;
  const uint64_t first = u.cur;
  uint64_t i = r.index, cur = first, bytes = 0, cleared = 0;
  bool done = false;
  if (lvl.leaf_size && last - cur >= lvl.leaf_size - 1) {
    const uint64_t size = lvl.leaf_size;
    const uint64_t beyond_first = last - cur - (size - 1);  // bytes after the first whole leaf
    uint64_t inside = beyond_first / size + 1;              // whole leaves inside the request
    bool ends_on_leaf = beyond_first % size == 0;            // the last of them ends the request
    if (bug_(Mutant::kUnmapOverrunsCutLeaf)) {
      inside = (last - cur) / size + 1;  // counts the leaf the request ends inside
      ends_on_leaf = true;
    }
    uint64_t fit = std::min(entries - i, inside);
    // These seeded bugs live in the general loop: leave it the leaf they are about.
    if (bug_(Mutant::kBoundaryOffByOne) || bug_(Mutant::kSkipLastAddPage)) fit -= fit > 0;
    const uint64_t n = clear_single(t, i, fit, lvl);
    if (gather)
      for (uint64_t k = 0; k < n; k++) flush_.tlb_add_page(*gather, cur + k * size, size);
    cleared = n;
    bytes = n * size;
    i += n;
    // Done when the last leaf cleared ends the request; cur stays on that leaf.
    done = n == inside && ends_on_leaf;
    cur += (n - done) * size;
  }
  while (!done && i < entries) {
    const uint64_t desc = t.load(i);
    const PtKind what = kind_of(lvl, desc);
    if (what == PtKind::kEmpty) {
      done = true;  // a hole
      break;
    }
    if (what != PtKind::kLeaf) break;
    const uint64_t size = lvl.is_contig(desc) ? f_.leaf_size(desc, r.level) : lvl.leaf_size;
    if (last - cur < size - 1 || (cur & (size - 1))) break;  // partly covered
    const uint64_t replicas = size >> lvl.shift;
    const bool last_of_run = last - cur <= size - 1;
    if (!(bug_(Mutant::kBoundaryOffByOne) && i + replicas == entries && !last_of_run)) {
      for (uint64_t k = 0; k < replicas; k++) t.store(i + k, 0);
      cleared += replicas;
    }
    if (gather && !(bug_(Mutant::kSkipLastAddPage) && last_of_run && cur != first))
      flush_.tlb_add_page(*gather, cur, size);
    bytes += size;
    i += replicas;
    done = last_of_run;
    if (!done) cur += size;
  }
  u.cur = cur;
  u.bytes += bytes;
  u.done = u.done || done;
  drop_count(r.table, r.level, first, static_cast<uint32_t>(cleared), u);
}

// Clears up to n leaves of one entry from i on, stopping at anything else; how many it cleared.
template <class Mem, class Bug>
template <class D>
uint64_t PtEngine<Mem, Bug>::clear_single(const Table<D>& t, uint64_t i, uint64_t n,
                                          const PtLevel& lvl) {
  uint64_t k = 0;
  for (; k < n; k++) {
    const uint64_t desc = t.load(i + k);
    if (kind_of(lvl, desc) != PtKind::kLeaf || lvl.is_contig(desc)) break;
    t.store(i + k, 0);
  }
  return k;
}

// Counts `size` bytes as unmapped and moves on; done at the end of the request.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::advance(Unmap& u, uint64_t size) const {
  u.bytes += size;
  if (u.last - u.cur <= size - 1)
    u.done = true;
  else
    u.cur += size;
}

template <class Mem, class Bug>
void PtEngine<Mem, Bug>::tlb_add(Unmap& u, uint64_t iova, uint64_t size) {
  if (u.gather && !u.gather->queued) flush_.tlb_add_page(*u.gather, iova, size);
}

// Entries left a table: when none is left, it becomes a candidate for freeing.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::drop_count(uint64_t table, unsigned level, uint64_t iova, uint32_t n,
                                    Unmap& u) {
  if (count_sub(table, n) && cfg_.free_empty_tables && level > f_.start_level)
    u.pending.push(iova, level, true);
}

template <class Mem, class Bug>
void PtEngine<Mem, Bug>::unmap_partial(const PtRange& r, uint64_t desc, uint64_t size,
                                       Unmap& u) {
  switch (cfg_.partial_unmap) {
    case ref::PartialUnmap::kRefuse:
      u.done = true;
      return;
    case ref::PartialUnmap::kWhole:
      take_whole(r, u.cur & ~(size - 1), size, u);
      return;
    case ref::PartialUnmap::kSplit:
      split_off(r, desc, size, u);
      return;
  }
}

// Removes the whole leaf and stops there, whatever else the request covers.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::take_whole(const PtRange& r, uint64_t leaf_iova, uint64_t size,
                                    Unmap& u) {
  const uint64_t first = f_.index(leaf_iova, r.level);
  const uint64_t replicas = size >> f_.at(r.level).shift;
  for (uint64_t k = 0; k < replicas; k++) store(r.ptep(first + k), 0);
  if (bug_(Mutant::kWholeGathersRequest))
    tlb_add(u, u.cur, f_.granule);
  else
    tlb_add(u, leaf_iova, size);
  drop_count(r.table, r.level, leaf_iova, static_cast<uint32_t>(replicas), u);
  u.bytes += size;
  u.done = true;
}

// Splits the leaf so that exactly the requested part of it goes, then flushes the whole cut
// leaf at once, as tlb_flush_walk flushes (no level hint), like arm_v7s_split_cont does: an
// IOTLB that cached the block keeps it through a flush of the removed pages alone (an SMMUv3
// TTL hint, a VT-d PSI narrower than the superpage), and through a gathered flush of the
// block until that gather syncs. Out of memory: stop here.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::split_off(const PtRange& r, uint64_t desc, uint64_t size, Unmap& u) {
  const uint64_t leaf_iova = u.cur & ~(size - 1);
  const uint64_t lo = u.cur;
  const uint64_t hi = std::min(leaf_iova + (size - 1), u.last);
  const bool lost = bug_(Mutant::kSplitLost);
  const int err = lost ? 0 : split(r, desc, leaf_iova, size, lo, hi);
  if (err == -EAGAIN) return;  // the leaf changed under us: look again
  if (err) {
    u.done = true;
    return;
  }
  if (!lost) flush_.tlb_flush_walk(leaf_iova, size, f_.granule);
  advance(u, hi - lo + 1);
}

// Removes [lo, hi] from the leaf: 0, -ENOMEM (nothing changed) or -EAGAIN (the leaf was
// replaced concurrently; nothing changed). A single-entry leaf becomes a next-level table,
// installed with one compare-exchange without break-before-make (as Linux 6.12 LPAE does); a
// leaf of several entries is rewritten in place.
template <class Mem, class Bug>
int PtEngine<Mem, Bug>::split(const PtRange& r, uint64_t desc, uint64_t leaf_iova, uint64_t size,
                              uint64_t lo, uint64_t hi) {
  const Cut cut{desc, r.level, lo, hi};
  const uint64_t oa = f_.oa_of(desc) & ~(size - 1);
  const uint64_t span = f_.at(r.level).span();
  const uint64_t first = f_.index(leaf_iova, r.level);
  if (size == span) {
    auto table = split_table(r.level + 1, leaf_iova, oa, size, cut);
    if (!table) return -ENOMEM;
    uint64_t expected = desc;
    if (exchange(r.ptep(first), expected, f_.table_desc(*table, r.level))) return 0;
    free_subtree(*table, r.level + 1);
    return -EAGAIN;
  }
  std::vector<uint64_t> out(size / span);
  if (!fill_split(out, r.level, leaf_iova, oa, size, cut)) {
    free_entries(out, r.level);
    return -ENOMEM;
  }
  uint32_t gone = 0;
  for (uint64_t k = 0; k < out.size(); k++) {
    store(r.ptep(first + k), out[k]);
    gone += out[k] == 0;
  }
  count_sub(r.table, gone);
  return 0;
}

// A new table at `level` translating [iova, iova + size) to oa, minus the cut.
template <class Mem, class Bug>
std::optional<uint64_t> PtEngine<Mem, Bug>::split_table(unsigned level, uint64_t iova,
                                                        uint64_t oa, uint64_t size,
                                                        const Cut& cut) {
  auto table = alloc_table(level);
  if (!table) return std::nullopt;
  std::vector<uint64_t> out(size / f_.at(level).span());
  if (!fill_split(out, level, iova, oa, size, cut)) {
    free_entries(out, level);
    mem_.free(*table);
    return std::nullopt;
  }
  const PtRange r(f_, *table, level, iova);
  uint32_t live = 0;
  for (uint64_t k = 0; k < out.size(); k++) {
    if (!out[k]) continue;
    store(r.ptep(r.index + k), out[k]);
    live++;
  }
  count_add(*table, live);
  return table;
}

// The entries at `level` for [iova, iova + size), in units of the next smaller page size:
// units inside the cut stay empty, units outside become leaves, and a unit the cut falls in is
// split again (in place when it spans several entries, else in a new table below).
template <class Mem, class Bug>
bool PtEngine<Mem, Bug>::fill_split(std::span<uint64_t> out, unsigned level, uint64_t iova,
                                    uint64_t oa, uint64_t size, const Cut& cut) {
  const uint64_t span = f_.at(level).span();
  const uint64_t unit = next_smaller(size);
  if (unit < span) {
    // The pieces are smaller than an entry (AMD has no 512G pages): every entry the cut leaves
    // something of becomes a table of them.
    for (uint64_t off = 0; off < size; off += span) {
      if (cut.removes(iova + off, iova + off + (span - 1))) continue;
      auto sub = split_table(level + 1, iova + off, oa + off, span, cut);
      if (!sub) return false;
      out[off / span] = f_.table_desc(*sub, level);
    }
    return true;
  }
  const uint64_t per_unit = unit / span;
  const uint64_t attrs = f_.codec->split_attrs(f_, cut.desc, cut.level, level, unit);
  for (uint64_t off = 0; off < size; off += unit) {
    const uint64_t first = iova + off, last = first + (unit - 1);
    std::span<uint64_t> piece = out.subspan(off / span, per_unit);
    if (cut.removes(first, last)) continue;
    if (cut.misses(first, last)) {
      std::fill(piece.begin(), piece.end(), attrs | f_.oa(oa + off));
    } else if (per_unit > 1) {
      if (!fill_split(piece, level, first, oa + off, unit, cut)) return false;
    } else {
      auto sub = split_table(level + 1, first, oa + off, unit, cut);
      if (!sub) return false;
      piece[0] = f_.table_desc(*sub, level);
    }
  }
  return true;
}

// Frees the tables a split built below entries that never got installed.
template <class Mem, class Bug>
void PtEngine<Mem, Bug>::free_entries(std::span<const uint64_t> entries, unsigned level) {
  for (uint64_t desc : entries)
    if (kind(desc, level) == PtKind::kTable) free_subtree(f_.oa_of(desc), level + 1);
}

}  // namespace iommu::impl
