// Splitting a leaf that an unmap covers only partly (Linux <= 6.12): the rest of it is
// rebuilt from the largest smaller leaves that fit, in a next-level table that replaces the
// leaf with one compare-exchange, or in place for v7s's 16-entry leaves.
//
// The new leaves keep the old leaf's attribute bits, as Linux's iopte_prot() does. Through the
// codec: encode the decoded prot, and carry over the bits it does not explain (LPAE's
// inner-shareable bit of an MMIO|CACHE mapping, which decodes as MMIO alone).
#include <fmt/format.h>

#include <cerrno>
#include <stdexcept>

#include "base/bits.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {
namespace {

bool inside(uint64_t first, uint64_t last, uint64_t lo, uint64_t hi) {
  return first >= lo && last <= hi;
}
bool disjoint(uint64_t first, uint64_t last, uint64_t lo, uint64_t hi) {
  return last < lo || first > hi;
}

}  // namespace

// Removes [lo, hi] from the leaf at s: 0, -ENOMEM (nothing changed) or -EAGAIN (the leaf was
// replaced concurrently; nothing changed).
int Pgtable::split(const Slot& s, uint64_t lo, uint64_t hi) {
  const Attrs attrs{s.d.prot, s.desc ^ fmt_.make_leaf(s.d.paddr, s.d.size, s.d.prot)};
  if (attrs.extra && fmt_.family() == hw::Family::kV7s)
    throw std::logic_error(fmt::format("{}: leaf {:#x} does not re-encode from its prot {:#x}",
                                       fmt_.name(), s.desc, s.d.prot));
  if (s.d.replicas > 1) return split_in_place(s, attrs, lo, hi);
  auto table = split_table(s.level + 1, s.leaf_iova(lo), s.d.paddr, s.d.size, attrs, lo, hi);
  if (!table) return -ENOMEM;
  uint64_t expected = s.desc;
  if (exchange(s.ptep, expected, fmt_.make_table(*table))) return 0;
  free_subtree(*table, s.level + 1);
  return -EAGAIN;
}

// A new table at `level` translating [iova, iova + size) to paddr, minus [lo, hi].
std::optional<uint64_t> Pgtable::split_table(unsigned level, uint64_t iova, uint64_t paddr,
                                             uint64_t size, Attrs attrs, uint64_t lo, uint64_t hi) {
  auto table = alloc_table(level);
  if (!table) return std::nullopt;
  uint32_t count = 0;
  const bool filled = fill_split(*table, level, iova, paddr, size, attrs, lo, hi, count);
  count_add(*table, count);  // before any free_subtree, which trusts the count
  if (filled) return table;
  free_subtree(*table, level);
  return std::nullopt;
}

// Fills the part of a fresh `table` that translates [iova, iova + size), in units of the next
// smaller page size: units inside [lo, hi] stay empty, units outside become leaves, and a unit
// cut by lo or hi is split again (in this table for a v7s 16-entry unit, else in a new one).
bool Pgtable::fill_split(uint64_t table, unsigned level, uint64_t iova, uint64_t paddr,
                         uint64_t size, Attrs attrs, uint64_t lo, uint64_t hi, uint32_t& count) {
  const unsigned db = fmt_.geo().desc_bytes;
  const uint64_t unit = next_smaller(size);
  const bool replicated = unit > bit(fmt_.geo().at(level).shift);
  const unsigned n = fmt_.replicas(unit);
  const LeafEncoder leaves(fmt_, paddr, unit, size / unit, attrs.prot);
  for (uint64_t off = 0; off < size; off += unit) {
    const uint64_t first = iova + off, last = first + (unit - 1);
    const uint64_t p = ptep(table, level, first);
    if (inside(first, last, lo, hi)) continue;
    if (disjoint(first, last, lo, hi)) {
      const uint64_t leaf = leaves.at(off / unit) ^ attrs.extra;
      for (unsigned r = 0; r < n; r++) store(p + r * db, leaf);
      count += n;
    } else if (replicated) {
      if (!fill_split(table, level, first, paddr + off, unit, attrs, lo, hi, count)) return false;
    } else {
      auto sub = split_table(level + 1, first, paddr + off, unit, attrs, lo, hi);
      if (!sub) return false;
      store(p, fmt_.make_table(*sub));
      count++;
    }
  }
  return true;
}

// A v7s 64K or 16M leaf becomes 16 single entries (4K pages, 1M sections, or a level-2 table
// for a section the cut falls in). The 16 writes are not atomic; split_off flushes the walk
// caches over the leaf afterwards, as Linux's arm_v7s_split_cont does.
int Pgtable::split_in_place(const Slot& s, Attrs attrs, uint64_t lo, uint64_t hi) {
  const unsigned db = fmt_.geo().desc_bytes;
  const unsigned n = s.d.replicas;
  const uint64_t unit = s.d.size / n;
  const uint64_t base = s.leaf_iova(lo);
  std::array<uint64_t, 16> desc{};
  uint32_t live = 0;
  for (unsigned i = 0; i < n; i++) {
    const uint64_t first = base + i * unit, last = first + (unit - 1);
    const uint64_t paddr = s.d.paddr + i * unit;
    if (inside(first, last, lo, hi)) continue;
    live++;
    if (disjoint(first, last, lo, hi)) {
      desc[i] = attrs.leaf(fmt_, paddr, unit);
      continue;
    }
    auto sub = split_table(s.level + 1, first, paddr, unit, attrs, lo, hi);
    if (!sub) {
      for (unsigned j = 0; j < i; j++)
        if (fmt_.decode(desc[j], s.level).kind == hw::DescKind::kTable)
          free_subtree(fmt_.decode(desc[j], s.level).paddr, s.level + 1);
      return -ENOMEM;
    }
    desc[i] = fmt_.make_table(*sub);
  }
  const uint64_t first_ptep = ptep(s.table, s.level, base);
  for (unsigned i = 0; i < n; i++) store(first_ptep + i * db, desc[i]);
  count_sub(s.table, n - live);
  return 0;
}

}  // namespace iommu::impl
