// Test-only: mirrors the leaves of a RefPgtableOps into a real arm-64-lpae-s1-4k table (ias 32,
// page sizes 4K|2M, levels 1..3) in hw::TableMemory, so that a hw::Device walks what the core
// mapped and the driver's commands act on real cached entries. Tables are allocated on demand;
// a level-3 table replaced by a 2M block is unhooked, flushed with tlb_flush_walk and freed, as
// io-pgtable does; a split block is replaced by a table in place (no break-before-make, as
// Linux 6.12 LPAE).
#pragma once

#include <cstdint>
#include <stdexcept>

#include "base/prot.h"
#include "hw/format.h"
#include "hw/table_memory.h"
#include "impl/io_pgtable.h"
#include "ref_pgtable_ops.h"

namespace iommu::impl::testing {

inline constexpr uint64_t kMirrorPgsizes = 0x1000 | 0x200000;
inline constexpr unsigned kMirrorIas = 32;

class HwMirror : public PgtableObserver {
 public:
  HwMirror(const RefPgtableOps& ops, hw::TableMemory& mem, FlushOps& flush)
      : ops_(ops), mem_(mem), flush_(flush), pgd_(alloc_table()) {
    if (ops.ref().config().pgsize_bitmap != kMirrorPgsizes)
      throw std::invalid_argument("HwMirror mirrors 4K|2M page tables only");
  }

  const hw::Format& format() const { return fmt_; }
  const uint64_t& root() const { return pgd_; }

  void changed(uint64_t first, uint64_t last) override {
    for (uint64_t slot = first & ~(kBlock - 1); slot <= last; slot += kBlock) {
      rewrite_slot(slot, first, last);
      if (slot + kBlock == 0) break;
    }
  }

 private:
  static constexpr uint64_t kPage = 0x1000;
  static constexpr uint64_t kBlock = 0x200000;

  uint64_t alloc_table() {
    if (auto t = mem_.alloc(kPage)) return *t;
    throw std::runtime_error("HwMirror: table memory exhausted");
  }

  uint64_t entry(uint64_t table, uint64_t iova, unsigned level) const {
    return table + fmt_.geo().index(iova, level) * 8;
  }

  // The level-2 table for iova, created when missing.
  uint64_t l2_table(uint64_t iova) {
    const uint64_t e1 = entry(pgd_, iova, 1);
    const hw::Decoded d = fmt_.decode(mem_.read64(e1), 1);
    if (d.kind == hw::DescKind::kTable) return d.paddr;
    const uint64_t t = alloc_table();
    mem_.write64(e1, fmt_.make_table(t));
    return t;
  }

  void rewrite_slot(uint64_t slot, uint64_t first, uint64_t last) {
    const ref::LeafMap& leaves = ops_.ref().leaves();
    const uint64_t e2 = entry(l2_table(slot), slot, 2);
    const hw::Decoded cur = fmt_.decode(mem_.read64(e2), 2);
    const auto block = leaves.leaf_at(slot);
    if (block && block->pgsize == kBlock) {
      if (cur.kind == hw::DescKind::kTable) {
        mem_.write64(e2, 0);
        flush_.tlb_flush_walk(slot, kBlock, kPage);
        mem_.free(cur.paddr);
      }
      mem_.write64(e2, fmt_.make_leaf(block->paddr, kBlock, block->prot));
      return;
    }
    const bool any_page = leaves.intersects(slot, slot + (kBlock - 1));
    if (cur.kind != hw::DescKind::kTable) {
      if (!any_page) {
        mem_.write64(e2, 0);
        return;
      }
      const uint64_t t = alloc_table();
      write_pages(t, slot, slot, slot + (kBlock - 1));
      mem_.write64(e2, fmt_.make_table(t));
      return;
    }
    write_pages(cur.paddr, slot, std::max(first, slot), std::min(last, slot + (kBlock - 1)));
  }

  void write_pages(uint64_t table, uint64_t slot, uint64_t first, uint64_t last) {
    for (uint64_t p = first & ~(kPage - 1); p <= last && p >= slot; p += kPage) {
      const auto leaf = ops_.ref().leaves().leaf_at(p);
      mem_.write64(entry(table, p, 3),
                   leaf ? fmt_.make_leaf(leaf->paddr + (p - leaf->iova), kPage, leaf->prot) : 0);
    }
  }

  const RefPgtableOps& ops_;
  hw::TableMemory& mem_;
  FlushOps& flush_;
  hw::Format fmt_ = hw::make_format({.name = "arm-64-lpae-s1-4k", .ias = kMirrorIas});
  uint64_t pgd_;
};

}  // namespace iommu::impl::testing
