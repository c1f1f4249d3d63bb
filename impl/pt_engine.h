// The page-table engine, written once over a level iterator (PtRange) and a format's data
// (PtFormat), for any table memory: hw::TableMemory (checked, what `check` drives) or
// HostMemory (production). A seeded bug of the zoo is a template argument: the production
// instantiations take NoBug, whose checks compile to nothing. Internal to impl/; users see
// impl::Pgtable and impl::HostPgtable (impl/pgtable.h). docs/IMPL.md explains the design.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "impl/io_pgtable.h"
#include "impl/mutant.h"
#include "impl/pgtable.h"
#include "impl/pt_format.h"
#include "impl/pt_lock.h"
#include "impl/pt_table.h"

namespace iommu::impl {

struct NoBug {
  constexpr bool operator()(Mutant) const { return false; }
};

struct SeededBug {
  Mutant bug;
  bool operator()(Mutant m) const { return bug == m; }
};

// The entries of one table that a walk visits at one level, from the entry translating `iova`
// to the one translating `last` or the table's end (generic_pt's pt_state). All index
// arithmetic of the engine lives here and in PtFormat::index().
struct PtRange {
  const PtFormat* f;
  uint64_t table;
  unsigned level;
  uint64_t index;
  uint64_t end;  // one past the last entry visited

  // The one entry translating iova.
  PtRange(const PtFormat& fmt, uint64_t table_paddr, unsigned lvl, uint64_t iova)
      : f(&fmt), table(table_paddr), level(lvl), index(fmt.index(iova, lvl)), end(index + 1) {}
  PtRange(const PtFormat& fmt, uint64_t table_paddr, unsigned lvl, uint64_t iova, uint64_t last)
      : f(&fmt), table(table_paddr), level(lvl), index(fmt.index(iova, lvl)) {
    const unsigned top = fmt.table_shift(lvl);
    const bool same_table = top >= 64 || (iova >> top) == (last >> top);
    end = same_table ? fmt.index(last, lvl) + 1 : fmt.at(lvl).entries();
  }
  uint64_t ptep() const { return table + index * f->desc_bytes; }
  uint64_t ptep(uint64_t i) const { return table + i * f->desc_bytes; }
  // The first iova entry `i` translates, within the table that `iova` selects.
  uint64_t entry_iova(uint64_t iova, uint64_t i) const {
    const unsigned shift = f->at(level).shift;
    const unsigned top = f->table_shift(level);
    const uint64_t base = top >= 64 ? 0 : iova & ~low_mask(top);
    return base | (i << shift);
  }

 private:
  static uint64_t low_mask(unsigned bits) { return (uint64_t{1} << bits) - 1; }
};

// Tables that may have become empty, freed after the shared work (see free_pending).
struct PtPending {
  struct Item {
    uint64_t iova;
    unsigned level;
    bool cascade;  // an unmap emptied it (else a failed map's own table)
  };
  // Only the first n items are set: a call that frees nothing never writes the array.
  PtPending() {}  // NOLINT: leaves items uninitialized on purpose
  std::array<Item, 32> items;
  unsigned n = 0;

  bool full() const { return n == items.size(); }
  void push(uint64_t iova, unsigned level, bool cascade) { items[n++] = {iova, level, cascade}; }
};

class PtEngineBase : public IoPgtableOps {
 public:
  std::span<const uint64_t> roots() const { return roots_; }
  virtual uint64_t table_bytes_live() const = 0;

 protected:
  std::vector<uint64_t> roots_;
};

template <class Mem, class Bug>
class PtEngine final : public PtEngineBase {
 public:
  PtEngine(const PgtableConfig& cfg, const hw::Format& fmt, Mem& mem, FlushOps& flush, Bug bug);
  ~PtEngine() override;

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override;
  uint64_t iova_to_phys(uint64_t iova) override;
  uint64_t table_bytes_live() const override { return mem_.live_bytes(); }

 private:
  struct Map;
  struct Unmap;

  // Entries and tables.
  uint64_t load(uint64_t ptep) const { return narrow_ ? mem_.read32(ptep) : mem_.read64(ptep); }
  void store(uint64_t ptep, uint64_t desc) {
    if (narrow_)
      mem_.write32(ptep, static_cast<uint32_t>(desc));
    else
      mem_.write64(ptep, desc);
  }
  bool exchange(uint64_t ptep, uint64_t& expected, uint64_t desired);
  template <class D>
  using Table = typename PtTableOf<Mem>::template type<D>;
  template <class D>
  Table<D> table_at(uint64_t paddr) const {
    return Table<D>(mem_, paddr);
  }
  PtKind kind(uint64_t desc, unsigned level) const { return kind_of(f_.at(level), desc); }
  uint64_t root_for(uint64_t iova) const { return roots_[f_.ttbr(iova)]; }
  std::optional<uint64_t> alloc_table(unsigned level) {
    return mem_.alloc(f_.at(level).table_bytes);
  }
  void count_add(uint64_t table, uint32_t n);
  bool count_sub(uint64_t table, uint32_t n);
  uint32_t count(uint64_t table) const;
  uint64_t next_smaller(uint64_t size) const;
  uint64_t top_of_walk(uint64_t iova) const;

  // Map (pt_map.h).
  int map_level(uint64_t table, unsigned level, Map& m);
  int child_for_map(const PtRange& r, uint64_t& child, bool& ours);
  int fill_leaves(PtRange& r, Map& m);
  template <class D>
  int fill_run(PtRange& r, Map& m);
  int claim_slot(const PtRange& r, uint64_t ptep, uint64_t iova, unsigned replicas);

  // Unmap and split (pt_unmap.h).
  void unmap_level(uint64_t table, unsigned level, Unmap& u);
  void clear_leaves(PtRange& r, Unmap& u);
  template <class D>
  void clear_run(PtRange& r, Unmap& u);
  template <class D>
  uint64_t clear_single(const Table<D>& t, uint64_t i, uint64_t n, const PtLevel& lvl);
  void advance(Unmap& u, uint64_t size) const;
  void tlb_add(Unmap& u, uint64_t iova, uint64_t size);
  void drop_count(uint64_t table, unsigned level, uint64_t iova, uint32_t n, Unmap& u);
  void unmap_partial(const PtRange& r, uint64_t desc, uint64_t size, Unmap& u);
  void take_whole(const PtRange& r, uint64_t leaf_iova, uint64_t size, Unmap& u);
  void split_off(const PtRange& r, uint64_t desc, uint64_t size, Unmap& u);
  int split(const PtRange& r, uint64_t desc, uint64_t leaf_iova, uint64_t size, uint64_t lo,
            uint64_t hi);
  struct Cut;
  bool fill_split(std::span<uint64_t> out, unsigned level, uint64_t iova, uint64_t oa,
                  uint64_t size, const Cut& cut);
  std::optional<uint64_t> split_table(unsigned level, uint64_t iova, uint64_t oa, uint64_t size,
                                      const Cut& cut);
  void free_entries(std::span<const uint64_t> entries, unsigned level);

  // Freeing tables (pt_free.h).
  void free_pending(PtPending& pending) {
    if (pending.n) free_pending_slow(pending);
  }
  void free_pending_slow(PtPending& pending);
  uint64_t kept_tag(uint64_t iova, unsigned level) const;
  void free_if_empty(uint64_t iova, unsigned level, bool cascade);
  void free_subtree(uint64_t table, unsigned level);
  bool subtree_has_leaf(uint64_t table, unsigned level) const;
  bool drop_empty_table(const PtRange& r, uint64_t ptep, uint64_t iova);

  PgtableConfig cfg_;
  PtFormat f_;
  Mem& mem_;
  FlushOps& flush_;
  [[no_unique_address]] Bug bug_;
  bool narrow_;  // 32-bit descriptors (v7s)
  // Shared by map/unmap/iova_to_phys; exclusive only to re-check and free empty tables.
  mutable PtLock lock_;
  // Per level, the table an unmap emptied last, kept linked until another table of that level
  // empties (its span's base + 1; 0 for none), so that a page mapped and unmapped again and
  // again costs no table allocation, walk flush or free.
  std::array<std::atomic<uint64_t>, hw::kMaxLevels> kept_{};
};

}  // namespace iommu::impl
