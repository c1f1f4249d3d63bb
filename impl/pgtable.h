// The page-table engine: one io_pgtable_ops implementation for every hw format, writing real
// descriptor bytes into hw::TableMemory through the format's codec. Multi-page map and unmap
// walk once per run (sibling tables reuse the upper levels), empty tables are freed on unmap
// from per-table live-entry counts, and map/unmap from several threads on disjoint iova
// ranges are safe (docs/IMPL.md, "Page-table engine").
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>
#include <vector>

#include "hw/format.h"
#include "hw/table_memory.h"
#include "impl/io_pgtable.h"
#include "impl/mutant.h"
#include "ref/config.h"

namespace iommu::impl {

struct PgtableConfig {
  hw::FormatConfig format;
  ref::PartialUnmap partial_unmap = ref::PartialUnmap::kSplit;
  bool free_empty_tables = true;
  Mutant bug = Mutant::kNone;  // the bug zoo's seeded bug in this table (impl/mutant.h)
};

// The hw formats the engine serves (a subset of hw::format_names() while new formats land).
std::span<const std::string_view> pgtable_formats();

class Pgtable : public IoPgtableOps {
 public:
  // Allocates the root table(s) from `mem`; throws std::invalid_argument for a bad format
  // and std::runtime_error when table memory cannot hold the roots.
  Pgtable(PgtableConfig config, hw::TableMemory& mem, FlushOps& flush);
  // Frees every table (no flush: the context is going away).
  ~Pgtable() override;
  Pgtable(const Pgtable&) = delete;
  Pgtable& operator=(const Pgtable&) = delete;

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override;
  uint64_t iova_to_phys(uint64_t iova) override;

  const hw::Format& format() const { return fmt_; }
  const PgtableConfig& config() const { return cfg_; }
  // The table paddrs a hardware walker starts from: one, or one per DART TTBR.
  std::span<const uint64_t> roots() const { return roots_; }
  // What the reference model holds this table to.
  ref::DomainConfig domain_config() const;

 private:
  struct Cursor;
  struct Slot;
  struct Pending;
  struct MapRun;
  struct UnmapRun;
  struct Attrs;

  bool bug(Mutant m) const { return cfg_.bug == m; }

  // Descriptors and tables (pgtable.cc).
  uint64_t load(uint64_t ptep) const;
  void store(uint64_t ptep, uint64_t desc);
  bool exchange(uint64_t ptep, uint64_t& expected, uint64_t desired);
  hw::Decoded decode(uint64_t desc, unsigned level) const;
  uint64_t ptep(uint64_t table, unsigned level, uint64_t iova) const;
  uint64_t entries(unsigned level) const;
  uint64_t table_bytes(unsigned level) const;
  unsigned table_shift(unsigned level) const;
  uint64_t root_for(uint64_t iova) const;
  std::optional<uint64_t> alloc_table(unsigned level);
  void count_add(uint64_t table, uint32_t n);
  bool count_sub(uint64_t table, uint32_t n);
  uint64_t next_smaller(uint64_t size) const;

  // Walks (pgtable_walk.cc).
  unsigned resume_level(const Cursor& c, uint64_t iova, unsigned below) const;
  void remember(Cursor& c, unsigned level, uint64_t iova, uint64_t table, bool ours) const;
  int table_for_map(Cursor& c, uint64_t iova, unsigned level, uint64_t& table);
  int descend_for_map(Cursor& c, uint64_t iova, unsigned level, uint64_t& table);
  Slot find(Cursor& c, uint64_t iova) const;

  // Map (pgtable_map.cc).
  int map_run(Cursor& c, MapRun& run);
  int fill_leaves(uint64_t table, MapRun& run);
  int claim_slot(uint64_t table, unsigned level, uint64_t p, unsigned replicas, uint64_t iova);
  void queue_ours(const Cursor& c, const MapRun& run, Pending& pending) const;

  // Unmap (pgtable_unmap.cc) and splits (pgtable_split.cc).
  void unmap_run(Cursor& c, UnmapRun& run, Pending& pending);
  void advance(UnmapRun& run, uint64_t size) const;
  void tlb_add(UnmapRun& run, uint64_t iova, uint64_t size);
  void clear_leaves(const Slot& s, UnmapRun& run, Pending& pending);
  uint64_t leaf_step(const hw::Decoded& d) const;
  void drop_count(uint64_t table, unsigned level, uint64_t iova, uint32_t n, Pending& pending);
  void unmap_partial(const Slot& s, UnmapRun& run, Pending& pending);
  void take_whole(const Slot& s, UnmapRun& run, Pending& pending);
  void split_off(const Slot& s, UnmapRun& run);
  int split(const Slot& s, uint64_t lo, uint64_t hi);
  int split_in_place(const Slot& s, Attrs attrs, uint64_t lo, uint64_t hi);
  std::optional<uint64_t> split_table(unsigned level, uint64_t iova, uint64_t paddr, uint64_t size,
                                      Attrs attrs, uint64_t lo, uint64_t hi);
  bool fill_split(uint64_t table, unsigned level, uint64_t iova, uint64_t paddr, uint64_t size,
                  Attrs attrs, uint64_t lo, uint64_t hi, uint32_t& count);

  // Freeing tables (pgtable_free.cc).
  void free_pending(Pending& pending);
  uint64_t kept_tag(uint64_t iova, unsigned level) const;
  void free_if_empty(uint64_t iova, unsigned level, bool cascade);
  void free_subtree(uint64_t table, unsigned level);
  bool subtree_has_leaf(uint64_t table, unsigned level) const;
  bool drop_empty_table(uint64_t parent, unsigned level, uint64_t p, uint64_t iova);

  PgtableConfig cfg_;
  hw::Format fmt_;
  hw::TableMemory& mem_;
  FlushOps& flush_;
  std::vector<uint64_t> roots_;
  // Shared by map/unmap/iova_to_phys; exclusive only to re-check and free empty tables.
  mutable std::shared_mutex lock_;
  // Per level, the table an unmap emptied last, which stays linked until another table at that
  // level empties (its span's base + 1; 0 for none). A page mapped and unmapped again and
  // again in one region then costs no table allocation, walk flush or free each time, and the
  // memory held beyond the live mappings stays at one table per level.
  std::array<std::atomic<uint64_t>, hw::kMaxLevels> kept_{};
};

}  // namespace iommu::impl
