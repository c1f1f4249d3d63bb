// Walks that remember their tables: a run moving on to a sibling table resumes at the deepest
// level that still covers it.
#include <cerrno>

#include "impl/mutant.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {

// The deepest level at or above `below` whose remembered table covers iova; the start level
// (a root) when none does.
unsigned Pgtable::resume_level(const Cursor& c, uint64_t iova, unsigned below) const {
  const unsigned start = fmt_.geo().start_level;
  for (unsigned l = below; l > start; l--)
    if ((c.valid >> l & 1) && c.tag[l] == iova >> table_shift(l)) return l;
  return start;
}

// Records the table at `level` on the path to iova; the levels below belonged to the old path.
void Pgtable::remember(Cursor& c, unsigned level, uint64_t iova, uint64_t table, bool ours) const {
  const auto below = static_cast<uint8_t>((1u << (level + 1)) - 1);
  c.table[level] = table;
  c.tag[level] = iova >> table_shift(level);
  c.valid = static_cast<uint8_t>((c.valid & below) | (1u << level));
  c.ours = static_cast<uint8_t>((c.ours & below & ~(1u << level)) | (ours ? 1u << level : 0));
}

// The table at `level` on the path to iova, allocating missing ones: 0, -ENOMEM, or -EEXIST
// when a leaf above `level` covers iova.
int Pgtable::table_for_map(Cursor& c, uint64_t iova, unsigned level, uint64_t& table) {
  unsigned l = resume_level(c, iova, level);
  table = l == fmt_.geo().start_level ? root_for(iova) : c.table[l];
  for (; l < level; l++)
    if (int err = descend_for_map(c, iova, l, table)) return err;
  return 0;
}

// One step down from `table` at `level`. A missing table is installed with a compare-exchange
// so that concurrent mappers of neighbouring ranges agree on one; the loser frees its own.
int Pgtable::descend_for_map(Cursor& c, uint64_t iova, unsigned level, uint64_t& table) {
  const uint64_t p = ptep(table, level, iova);
  uint64_t desc = load(p);
  hw::Decoded d = decode(desc, level);
  bool ours = false;
  while (d.kind == hw::DescKind::kEmpty) {
    auto fresh = alloc_table(level + 1);
    if (!fresh) return -ENOMEM;
    const uint64_t table_desc = fmt_.make_table(*fresh);
    const bool installed = bug(Mutant::kRacyTableInstall) ? (store(p, table_desc), true)
                                                              : exchange(p, desc, table_desc);
    if (installed) {
      count_add(table, 1);
      d.kind = hw::DescKind::kTable;
      d.paddr = *fresh;
      ours = true;
    } else {
      mem_.free(*fresh);
      d = decode(desc, level);
    }
  }
  if (d.kind != hw::DescKind::kTable) return -EEXIST;
  remember(c, level + 1, iova, d.paddr, ours);
  table = d.paddr;
  return 0;
}

// Follows tables from the deepest remembered level down to the entry that translates iova.
Pgtable::Slot Pgtable::find(Cursor& c, uint64_t iova) const {
  unsigned l = resume_level(c, iova, fmt_.geo().last_level);
  uint64_t table = l == fmt_.geo().start_level ? root_for(iova) : c.table[l];
  for (;; l++) {
    Slot s;
    s.level = l;
    s.table = table;
    s.ptep = ptep(table, l, iova);
    s.desc = load(s.ptep);
    s.d = decode(s.desc, l);
    if (s.d.kind != hw::DescKind::kTable) return s;
    remember(c, l + 1, iova, s.d.paddr, false);
    table = s.d.paddr;
  }
}

}  // namespace iommu::impl
