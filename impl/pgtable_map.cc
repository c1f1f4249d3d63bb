// map_pages: one walk per run; pages go into each leaf table in a tight loop, and a run that
// crosses into the next table resumes from the deepest level still shared.
#include <cerrno>
#include <mutex>

#include "base/bits.h"
#include "base/prot.h"
#include "impl/mutant.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {

int Pgtable::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                       uint64_t* mapped) {
  const hw::Geometry& g = fmt_.geo();
  if (!is_pow2(pgsize) || !(pgsize & g.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova | paddr, pgsize))
    return -EINVAL;
  const uint64_t room =
      std::min(pages_below(iova, pgsize, g.ias), pages_below(paddr, pgsize, g.oas));
  if (room == 0) return -ERANGE;
  if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;

  const uint64_t want = std::min(pgcount, room);
  MapRun run{.iova = iova,
             .pgsize = pgsize,
             .count = want,
             .level = fmt_.leaf_level(pgsize),
             .replicas = fmt_.replicas(pgsize),
             .leaf = LeafEncoder(fmt_, paddr, pgsize, want,
                                 bug(Mutant::kWritableReadOnly) ? prot | IOMMU_WRITE : prot)};
  Pending pending;
  int ret = 0;
  {
    std::shared_lock lock(lock_);
    Cursor c;
    ret = map_run(c, run);
    if (ret) queue_ours(c, run, pending);
  }
  free_pending(pending);
  if (mapped) *mapped += run.done * pgsize;
  if (ret) return ret;
  return want < pgcount ? -ERANGE : 0;
}

int Pgtable::map_run(Cursor& c, MapRun& run) {
  while (run.done < run.count) {
    uint64_t table = 0;
    if (int err = table_for_map(c, run.cur(), run.level, table)) return err;
    if (int err = fill_leaves(table, run)) return err;
  }
  return 0;
}

// Writes the run's pages into `table` up to its end; -EEXIST at the first busy slot.
int Pgtable::fill_leaves(uint64_t table, MapRun& run) {
  const unsigned db = fmt_.geo().desc_bytes;
  uint64_t idx = fmt_.geo().index(run.cur(), run.level);
  if (bug(Mutant::kConcatPgdEntriesLeft) && run.level == fmt_.geo().start_level) {
    // One table's worth of entries, as if the PGD were not concatenated: past the first
    // table "entries left" goes negative and so does the count mapped.
    const uint64_t per_table = fmt_.geo().granule / db;
    if (idx >= per_table) {
      run.done -= idx - per_table + 1;
      return 0;
    }
    const uint64_t n = std::min(run.count - run.done, per_table - idx);
    for (uint64_t k = 0; k < n; k++, idx++) {
      if (int ret = claim_slot(table, run.level, table + idx * db, 1, run.cur())) return ret;
      store(table + idx * db, run.leaf.at(run.done++));
    }
    count_add(table, static_cast<uint32_t>(n));
    return 0;
  }
  const uint64_t n = std::min(run.count - run.done, (entries(run.level) - idx) / run.replicas);
  uint32_t written = 0;
  int ret = 0;
  for (uint64_t k = 0; k < n; k++, idx += run.replicas) {
    const uint64_t p = table + idx * db;
    if ((ret = claim_slot(table, run.level, p, run.replicas, run.cur()))) break;
    const uint64_t desc = run.leaf.at(run.done);
    const unsigned copies = bug(Mutant::kV7sSingleReplica) ? 1 : run.replicas;
    for (unsigned r = 0; r < copies; r++) store(p + r * db, desc);
    written += run.replicas;
    run.done++;
  }
  count_add(table, written);
  return ret;
}

// Whether the slot of one leaf (its replicas) may take it: empty, or holding only tables with
// no leaf below, which are unlinked and freed first (as Linux LPAE does before a block).
int Pgtable::claim_slot(uint64_t table, unsigned level, uint64_t p, unsigned replicas,
                        uint64_t iova) {
  const unsigned db = fmt_.geo().desc_bytes;
  bool empty = true;
  for (unsigned r = 0; r < replicas; r++) empty = empty && load(p + r * db) == 0;
  if (empty || bug(Mutant::kNoEexist)) return 0;
  for (unsigned r = 0; r < replicas; r++) {
    const hw::Decoded d = decode(load(p + r * db), level);
    if (d.kind == hw::DescKind::kLeaf ||
        (d.kind == hw::DescKind::kTable && subtree_has_leaf(d.paddr, level + 1)))
      return -EEXIST;
  }
  const uint64_t span = bit(fmt_.geo().at(level).shift);
  for (unsigned r = 0; r < replicas; r++)
    if (!drop_empty_table(table, level, p + r * db, iova + r * span)) return -EEXIST;
  return 0;
}

// After an error, the tables this call allocated on its current path may be empty: they go
// (deepest first), so that a failed map leaves no table behind once its pages are unmapped.
void Pgtable::queue_ours(const Cursor& c, const MapRun& run, Pending& pending) const {
  for (unsigned l = run.level; l > fmt_.geo().start_level; l--)
    if ((c.ours >> l & 1) && c.tag[l] == run.cur() >> table_shift(l))
      pending.push(run.cur(), l, false);
}

}  // namespace iommu::impl
