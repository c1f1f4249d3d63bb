// unmap_pages: removes leaves from iova until the request ends or a hole, clearing each leaf
// table's run in a tight loop; a leaf the request covers only partly is split, taken whole or
// refused as configured.
#include <cerrno>
#include <mutex>

#include "base/bits.h"
#include "impl/mutant.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {

uint64_t Pgtable::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                              IotlbGather* gather) {
  const hw::Geometry& g = fmt_.geo();
  if (!is_pow2(pgsize) || !(pgsize & g.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova, pgsize) || pages_below(iova, pgsize, g.ias) == 0)
    return 0;
  UnmapRun run{
      .end = request_last(iova, pgsize, pgcount), .pgsize = pgsize, .gather = gather, .cur = iova};
  // Empty tables are freed under the exclusive lock between rounds of shared work.
  while (!run.done) {
    Pending pending;
    {
      std::shared_lock lock(lock_);
      Cursor c;
      unmap_run(c, run, pending);
    }
    free_pending(pending);
  }
  return run.bytes;
}

void Pgtable::unmap_run(Cursor& c, UnmapRun& run, Pending& pending) {
  while (!run.done && !pending.full()) {
    const Slot s = find(c, run.cur);
    if (s.d.kind != hw::DescKind::kLeaf) {
      if (bug(Mutant::kUnmapEmptyErrno) && run.bytes == 0) run.bytes = static_cast<uint64_t>(-EINVAL);
      run.done = true;  // a hole
    } else if (s.leaf_iova(run.cur) == run.cur && run.end - run.cur >= s.d.size - 1) {
      clear_leaves(s, run, pending);
    } else {
      unmap_partial(s, run, pending);
    }
  }
}

// Counts `size` bytes as unmapped and moves on; done at the end of the request or the ias.
void Pgtable::advance(UnmapRun& run, uint64_t size) const {
  run.bytes += size;
  if (run.end - run.cur <= size - 1) {
    run.done = true;
    return;
  }
  run.cur += size;
  if (!fits_bits(run.cur, 1, fmt_.geo().ias)) run.done = true;
}

void Pgtable::tlb_add(UnmapRun& run, uint64_t iova, uint64_t size) {
  if (run.gather && !run.gather->queued) flush_.tlb_add_page(*run.gather, iova, size);
}

// Clears whole leaves from s onwards in its table while they lie inside the request.
void Pgtable::clear_leaves(const Slot& s, UnmapRun& run, Pending& pending) {
  const unsigned db = fmt_.geo().desc_bytes;
  const uint64_t table_end = s.table + entries(s.level) * db;
  const uint64_t first = run.cur;
  uint64_t step = 0;
  uint64_t p = s.ptep, desc = s.desc;
  hw::Decoded d = s.d;
  uint32_t cleared = 0;
  for (;;) {
    const bool last_of_table = p + d.replicas * db == table_end && run.end - run.cur > d.size - 1;
    if (!(bug(Mutant::kBoundaryOffByOne) && last_of_table)) {
      for (unsigned r = 0; r < d.replicas; r++) store(p + r * db, 0);
      cleared += d.replicas;
    }
    const bool last_of_run = run.end - run.cur <= d.size - 1;
    if (!(bug(Mutant::kSkipLastAddPage) && last_of_run && run.cur != first)) {
      tlb_add(run, run.cur, d.size);
    }
    advance(run, d.size);
    p += d.replicas * db;
    if (run.done || p == table_end) break;
    const uint64_t next = load(p);
    if (next == 0) {
      run.done = true;  // a hole
      break;
    }
    if (step == 0) step = leaf_step(s.d);  // only once a second leaf follows
    if (next != desc + step) d = decode(next, s.level);
    if (d.kind != hw::DescKind::kLeaf || run.end - run.cur < d.size - 1) break;
    desc = next;
  }
  drop_count(s.table, s.level, first, cleared, pending);
}

// The difference between the descriptors of two consecutive leaves like d: only the output
// address field changes (LeafEncoder). An entry equal to the previous one plus this step is
// therefore a leaf of the same kind and size (the bits that say so all lie below the address
// field, which the addition cannot reach), and needs no decoding; anything else does.
uint64_t Pgtable::leaf_step(const hw::Decoded& d) const {
  return fmt_.make_leaf(d.paddr + d.size, d.size, d.prot) - fmt_.make_leaf(d.paddr, d.size, d.prot);
}

// Entries left a table: when none is left, it becomes a candidate for freeing.
void Pgtable::drop_count(uint64_t table, unsigned level, uint64_t iova, uint32_t n,
                         Pending& pending) {
  if (count_sub(table, n) && cfg_.free_empty_tables && level > fmt_.geo().start_level)
    pending.push(iova, level, true);
}

void Pgtable::unmap_partial(const Slot& s, UnmapRun& run, Pending& pending) {
  switch (cfg_.partial_unmap) {
    case ref::PartialUnmap::kRefuse:
      run.done = true;
      return;
    case ref::PartialUnmap::kWhole:
      take_whole(s, run, pending);
      return;
    case ref::PartialUnmap::kSplit:
      split_off(s, run);
      return;
  }
}

// Removes the whole leaf and stops there, whatever else the request covers.
void Pgtable::take_whole(const Slot& s, UnmapRun& run, Pending& pending) {
  const unsigned db = fmt_.geo().desc_bytes;
  const uint64_t leaf = s.leaf_iova(run.cur);
  const uint64_t first = ptep(s.table, s.level, leaf);
  for (unsigned r = 0; r < s.d.replicas; r++) store(first + r * db, 0);
  if (bug(Mutant::kWholeGathersRequest)) {
    tlb_add(run, run.cur, fmt_.geo().granule);
  } else {
    tlb_add(run, leaf, s.d.size);
  }
  drop_count(s.table, s.level, leaf, s.d.replicas, pending);
  run.bytes += s.d.size;
  run.done = true;
}

// Splits the leaf so that exactly the requested part of it goes. Linux 6.12 reports only the
// removed part, in pages of the request's size: an IOTLB that cached the block keeps it
// through such a flush (an SMMUv3 TTL hint, a VT-d PSI narrower than the superpage). Adding
// the whole block to the gather is not enough either: until that gather syncs, a strict unmap
// of another part of the block leaves the block cached. So the cut leaf is flushed at once,
// as tlb_flush_walk flushes (no level hint), like arm_v7s_split_cont does. Out of memory: stop
// here.
void Pgtable::split_off(const Slot& s, UnmapRun& run) {
  const uint64_t lo = run.cur;
  const uint64_t hi = std::min(s.leaf_iova(lo) + (s.d.size - 1), run.end);
  const int err = bug(Mutant::kSplitLost) ? 0 : split(s, lo, hi);
  if (err == -EAGAIN) return;  // the leaf changed under us: look again
  if (err) {
    run.done = true;
    return;
  }
  if (!bug(Mutant::kSplitLost)) {
    flush_.tlb_flush_walk(s.leaf_iova(lo), s.d.size, fmt_.geo().granule);
  }
  advance(run, hi - lo + 1);
}

}  // namespace iommu::impl
