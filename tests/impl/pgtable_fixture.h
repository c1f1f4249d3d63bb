// Test support for the page-table engine: the configurations every format is checked in, a
// FlushOps that records what the engine asks for and checks table frees against it, and
// comparisons of the tables in memory (as hardware reads them) with the reference.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hw/dump.h"
#include "hw/walker.h"
#include "impl/pgtable.h"
#include "ref/ref.h"

namespace iommu::impl::testing {

// One engine configuration under test, with the table-memory window it needs.
struct Case {
  std::string label;
  hw::FormatConfig format;
  hw::TableMemory::Config window;
};

// gtest names parameterized cases after this.
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

// A case's label as a gtest name (no dashes).
inline std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.label;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

// Every format name with its defaults, plus the variants with their own geometry: a DART with
// four TTBRs, concatenated stage-2 PGDs, 52-bit output (4T leaves, tables above 2^48), Mali and
// a 32-bit-LPAE-sized tiny PGD, and a narrow v7s.
inline std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (std::string_view name : impl::pgtable_formats())
    out.push_back({std::string(name), {std::string(name)}, {}});
  out.push_back({"apple-dart-4k-4ttbr", {"apple-dart", 32, 36, 4096}, {}});
  out.push_back({"arm-64-lpae-s2-4k-ias40-concat", {"arm-64-lpae-s2-4k", 40, 40}, {}});
  out.push_back({"arm-64-lpae-s1-64k-52bit",
                 {"arm-64-lpae-s1-64k", 52, 52},
                 {.base = 0x000f000000000000, .limit = uint64_t{1} << 52}});
  out.push_back({"arm-64-lpae-s2-64k-52bit", {"arm-64-lpae-s2-64k", 52, 52}, {}});
  out.push_back({"arm-mali-lpae-ias32", {"arm-mali-lpae", 32, 40}, {}});
  out.push_back({"arm-v7s-narrow", {"arm-v7s", 24, 30}, hw::TableMemory::window_for_oas(30)});
  return out;
}

// Records every tlb_add_page and tlb_flush_walk. When armed with the tables reachable before an
// operation, it notes at each tlb_flush_walk which of them are, at that moment, unlinked but
// still allocated and inside the flushed range: the tables it is correct to free afterwards.
class RecordingFlush : public FlushOps {
 public:
  struct Page {
    uint64_t iova = 0;
    uint64_t size = 0;
  };
  struct TableAt {
    uint64_t iova = 0;
    unsigned level = 0;
  };

  void tlb_flush_all() override {}
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) override;
  void tlb_add_page(IotlbGather& gather, uint64_t iova, uint64_t granule) override {
    std::lock_guard lock(mu_);
    pages_.push_back({iova, granule});
    gather.start = std::min(gather.start, iova);
    gather.end = std::max(gather.end, iova + (granule - 1));
    gather.pgsize = granule;
  }

  // Starts an operation on `pt`: remembers the tables reachable now.
  void arm(const Pgtable& pt, const hw::TableMemory& mem);
  void disarm() { pt_ = nullptr; }
  const std::map<uint64_t, TableAt>& before() const { return before_; }
  const std::set<uint64_t>& flushed_ok() const { return flushed_ok_; }
  std::vector<Page> take_pages() {
    std::lock_guard lock(mu_);
    return std::exchange(pages_, {});
  }
  // The ranges tlb_flush_walk invalidated (leaves included) since the last take.
  std::vector<Page> take_walks() {
    std::lock_guard lock(mu_);
    return std::exchange(walks_, {});
  }
  size_t walk_flushes() const { return walk_flushes_; }

 private:
  std::mutex mu_;
  const Pgtable* pt_ = nullptr;
  const hw::TableMemory* mem_ = nullptr;
  std::map<uint64_t, TableAt> before_;
  std::set<uint64_t> flushed_ok_;
  std::vector<Page> pages_;
  std::vector<Page> walks_;
  size_t walk_flushes_ = 0;
};

// A FlushOps that only counts, safe from any thread.
class CountingFlush : public FlushOps {
 public:
  void tlb_flush_all() override { all_++; }
  void tlb_flush_walk(uint64_t, uint64_t, uint64_t) override { walks_++; }
  void tlb_add_page(IotlbGather&, uint64_t, uint64_t) override { pages_++; }
  uint64_t walks() const { return walks_; }
  uint64_t pages() const { return pages_; }

 private:
  std::atomic<uint64_t> all_{0}, walks_{0}, pages_{0};
};

// Every table reachable from the roots, with the first iova it translates and its level.
namespace detail {

inline uint64_t table_span(const hw::Format& fmt, unsigned level) {
  const hw::LevelGeometry& lg = fmt.geo().at(level);
  return lg.shift + lg.index_bits >= 64 ? 0 : uint64_t{1} << (lg.shift + lg.index_bits);
}

inline void visit(const hw::TableMemory& mem, const hw::Format& fmt, uint64_t table, unsigned level,
                  uint64_t iova, std::map<uint64_t, RecordingFlush::TableAt>& out) {
  out[table] = {iova, level};
  const hw::LevelGeometry& lg = fmt.geo().at(level);
  if (!lg.has_tables) return;
  for (uint64_t i = 0; i < (uint64_t{1} << lg.index_bits); i++) {
    const hw::Entry e = hw::read_entry(mem, fmt, table, level, i);
    if (!e.fault && e.decoded.kind == hw::DescKind::kTable)
      visit(mem, fmt, e.decoded.paddr, level + 1, iova + (i << lg.shift), out);
  }
}

}  // namespace detail

inline std::map<uint64_t, RecordingFlush::TableAt> reachable_tables(const Pgtable& pt,
                                                                    const hw::TableMemory& mem) {
  std::map<uint64_t, RecordingFlush::TableAt> out;
  const hw::Format& fmt = pt.format();
  for (size_t i = 0; i < pt.roots().size(); i++) {
    const uint64_t base = fmt.geo().n_ttbrs > 1 ? uint64_t{i} << fmt.geo().ttbr_shift : 0;
    detail::visit(mem, fmt, pt.roots()[i], fmt.geo().start_level, base, out);
  }
  return out;
}

inline void RecordingFlush::arm(const Pgtable& pt, const hw::TableMemory& mem) {
  std::lock_guard lock(mu_);
  pt_ = &pt;
  mem_ = &mem;
  before_ = reachable_tables(pt, mem);
  flushed_ok_.clear();
}

inline void RecordingFlush::tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t) {
  std::lock_guard lock(mu_);
  walk_flushes_++;
  walks_.push_back({iova, size});
  if (!pt_) return;
  const auto now = reachable_tables(*pt_, *mem_);
  const uint64_t last = iova + (size - 1);
  for (const auto& [paddr, at] : before_) {
    const uint64_t span = detail::table_span(pt_->format(), at.level);
    const bool covered = at.iova >= iova && at.iova + (span - 1) <= last;
    if (covered && !now.contains(paddr) && mem_->state(paddr) == hw::PageState::kAllocated)
      flushed_ok_.insert(paddr);
  }
}

// The mappings the reference holds, as the dumper reports them: merged runs of equal leaves
// with the prot the descriptors express.
inline std::vector<hw::Mapping> expected_mappings(const ref::RefPgtable& ref,
                                                  const hw::Format& fmt) {
  std::vector<hw::Mapping> out;
  for (const auto& [iova, run] : ref.leaves().runs()) {
    const unsigned level = fmt.leaf_level(run.pgsize);
    const int prot = fmt.decode(fmt.make_leaf(run.paddr, run.pgsize, run.prot), level).prot;
    hw::Mapping m{run.iova, run.paddr, run.size(), prot, run.pgsize, level, fmt.level_name(level)};
    if (!out.empty()) {
      hw::Mapping& b = out.back();
      if (b.iova + b.size == m.iova && b.paddr + b.size == m.paddr && b.prot == m.prot &&
          b.leaf_size == m.leaf_size && b.level == m.level) {
        b.size += m.size;
        continue;
      }
    }
    out.push_back(m);
  }
  return out;
}

// Empty when the tables in memory map exactly what the reference holds (leaf sizes and prot
// included) and hold nothing malformed; otherwise the first difference.
namespace detail {

// Every leaf entry (each replica of a v7s 16-entry leaf too) with the iova it translates.
template <typename Fn>
void for_each_leaf_entry(const hw::TableMemory& mem, const hw::Format& fmt, uint64_t table,
                         unsigned level, uint64_t iova, Fn&& fn) {
  const hw::LevelGeometry& lg = fmt.geo().at(level);
  for (uint64_t i = 0; i < (uint64_t{1} << lg.index_bits); i++) {
    const hw::Entry e = hw::read_entry(mem, fmt, table, level, i);
    const uint64_t at = iova + (i << lg.shift);
    if (!e.fault && e.decoded.kind == hw::DescKind::kTable)
      for_each_leaf_entry(mem, fmt, e.decoded.paddr, level + 1, at, fn);
    else if (!e.fault && e.decoded.kind == hw::DescKind::kLeaf)
      fn(at, e.desc, e.decoded);
  }
}

}  // namespace detail

// Empty when every leaf descriptor is bit for bit what the codec writes for the reference's
// mapping there (catching bits that decoding does not show, such as shareability).
inline std::string compare_descriptors(const Pgtable& pt, const hw::TableMemory& mem,
                                       const ref::RefPgtable& ref) {
  const hw::Format& fmt = pt.format();
  std::string error;
  for (size_t r = 0; r < pt.roots().size() && error.empty(); r++) {
    const uint64_t base = fmt.geo().n_ttbrs > 1 ? uint64_t{r} << fmt.geo().ttbr_shift : 0;
    detail::for_each_leaf_entry(
        mem, fmt, pt.roots()[r], fmt.geo().start_level, base,
        [&](uint64_t iova, uint64_t desc, const hw::Decoded& d) {
          if (!error.empty()) return;
          const uint64_t leaf_iova = iova & ~(d.size - 1);
          const auto leaf = ref.leaves().leaf_at(leaf_iova);
          const uint64_t want =
              leaf ? fmt.make_leaf(leaf->paddr + (leaf_iova - leaf->iova), d.size, leaf->prot) : 0;
          if (desc != want)
            error = fmt::format("descriptor for iova {:#x} is {:#x}, the codec writes {:#x}", iova,
                                desc, want);
        });
  }
  return error;
}

inline std::string compare_tables(const Pgtable& pt, const hw::TableMemory& mem,
                                  const ref::RefPgtable& ref) {
  if (!mem.bad_accesses().empty())
    return fmt::format("{} accesses to unallocated table memory, the first at {:#x}",
                       mem.bad_accesses().size(), mem.bad_accesses()[0].paddr);
  const hw::TableDump dump = hw::dump_tables(mem, pt.format(), pt.roots());
  if (!dump.malformed.empty()) return "malformed: " + hw::format_malformed(dump.malformed[0]);
  const std::vector<hw::Mapping> want = expected_mappings(ref, pt.format());
  for (size_t i = 0; i < std::max(want.size(), dump.mappings.size()); i++) {
    if (i < want.size() && i < dump.mappings.size() && want[i] == dump.mappings[i]) continue;
    return fmt::format("mapping {}: tables hold {}, reference {}", i,
                       i < dump.mappings.size() ? hw::format_mapping(dump.mappings[i]) : "nothing",
                       i < want.size() ? hw::format_mapping(want[i]) : "nothing");
  }
  return compare_descriptors(pt, mem, ref);
}

// Empty when hardware walks agree with the reference at the edges of every run and one leaf
// inside it, with the permissions the prot implies, and fault just outside each run.
namespace detail {

inline std::string walk_at(const Pgtable& pt, const hw::TableMemory& mem,
                           const ref::RefPgtable& ref, uint64_t iova) {
  const hw::Format& fmt = pt.format();
  const hw::WalkResult r = hw::walk(mem, fmt, pt.roots(), iova);
  const auto leaf = ref.leaves().leaf_at(iova);
  if (!leaf) {
    if (r.fault() && r.fault()->reason == hw::FaultReason::kTranslation) return {};
    return fmt::format("iova {:#x}: unmapped in the reference, the walk does not fault cleanly",
                       iova);
  }
  if (!r.leaf()) return fmt::format("iova {:#x}: the walk faults, the reference maps it", iova);
  const hw::Leaf& l = *r.leaf();
  const hw::Perms want =
      fmt.decode(fmt.make_leaf(leaf->paddr, leaf->pgsize, leaf->prot), fmt.leaf_level(leaf->pgsize))
          .perms;
  if (l.paddr_base + (iova - l.iova_base) != leaf->paddr + (iova - leaf->iova) ||
      l.size != leaf->pgsize || !(l.perms == want))
    return fmt::format("iova {:#x}: walk gives {:#x} (leaf {:#x}), reference {:#x} (leaf {:#x})",
                       iova, l.paddr_base + (iova - l.iova_base), l.size,
                       leaf->paddr + (iova - leaf->iova), leaf->pgsize);
  return {};
}

}  // namespace detail

inline std::string compare_walks(const Pgtable& pt, const hw::TableMemory& mem,
                                 const ref::RefPgtable& ref) {
  const uint64_t top =
      ref.config().ias >= 64 ? ~uint64_t{0} : (uint64_t{1} << ref.config().ias) - 1;
  for (const auto& [iova, run] : ref.leaves().runs()) {
    const uint64_t mid = run.iova + (run.count / 2) * run.pgsize + run.pgsize / 3;
    for (uint64_t at : {run.iova, run.last(), mid, run.last() - (run.pgsize - 1)})
      if (auto e = detail::walk_at(pt, mem, ref, at); !e.empty()) return e;
    if (run.iova > 0)
      if (auto e = detail::walk_at(pt, mem, ref, run.iova - 1); !e.empty()) return e;
    if (run.last() < top)
      if (auto e = detail::walk_at(pt, mem, ref, run.last() + 1); !e.empty()) return e;
  }
  return {};
}

// Empty when every live allocation is a reachable table and vice versa.
inline std::string check_no_orphans(const Pgtable& pt, const hw::TableMemory& mem) {
  const auto tables = reachable_tables(pt, mem);
  const auto live = mem.live_allocations();
  for (const hw::Allocation& a : live)
    if (!tables.contains(a.paddr))
      return fmt::format("table {:#x} is allocated but unreachable", a.paddr);
  if (live.size() != tables.size())
    return fmt::format("{} tables reachable, {} allocated", tables.size(), live.size());
  return {};
}

// Empty unless some level below the root holds more than one empty table: the engine keeps
// only the table an unmap emptied last at each level (for the next map there) and frees the
// others.
inline std::string check_empty_tables_bounded(const Pgtable& pt, const hw::TableMemory& mem) {
  const hw::Format& fmt = pt.format();
  std::array<std::optional<uint64_t>, hw::kMaxLevels> empty_at;  // an empty table, per level
  for (const auto& [paddr, at] : reachable_tables(pt, mem)) {
    if (at.level == fmt.geo().start_level) continue;
    bool empty = true;
    const hw::LevelGeometry& lg = fmt.geo().at(at.level);
    for (uint64_t i = 0; empty && i < (uint64_t{1} << lg.index_bits); i++)
      empty = hw::read_entry(mem, fmt, paddr, at.level, i).decoded.kind == hw::DescKind::kEmpty;
    if (!empty) continue;
    if (empty_at[at.level])
      return fmt::format("empty tables at iovas {:#x} and {:#x} (level {}): only one may stay",
                         *empty_at[at.level], at.iova, at.level);
    empty_at[at.level] = at.iova;
  }
  return {};
}

// Live table allocations apart from the emptied ones the engine keeps linked for the next map
// (check_empty_tables_bounded bounds those) and the parents that hold nothing else: the roots
// and the tables some leaf is reached through.
inline std::vector<hw::Allocation> tables_in_use(const Pgtable& pt, hw::TableMemory& mem) {
  const hw::Format& fmt = pt.format();
  const auto reachable = reachable_tables(pt, mem);
  std::set<uint64_t> used(pt.roots().begin(), pt.roots().end());
  for (const auto& [paddr, at] : reachable) {
    const uint64_t n = uint64_t{1} << fmt.geo().at(at.level).index_bits;
    bool leaf = false;
    for (uint64_t i = 0; !leaf && i < n; i++)
      leaf = hw::read_entry(mem, fmt, paddr, at.level, i).decoded.kind == hw::DescKind::kLeaf;
    if (!leaf) continue;
    // This table and every table above it on the way from the root.
    for (const auto& [above, up] : reachable)
      if (up.level <= at.level && up.iova <= at.iova &&
          at.iova - up.iova < detail::table_span(fmt, up.level))
        used.insert(above);
  }
  std::vector<hw::Allocation> out;
  for (const hw::Allocation& a : mem.live_allocations())
    if (used.contains(a.paddr)) out.push_back(a);
  return out;
}

// Empty when each table's live-entry count (its TableMemory meta word) equals its non-empty
// entries, as the engine's freeing relies on.
inline std::string check_counts(const Pgtable& pt, hw::TableMemory& mem) {
  const hw::Format& fmt = pt.format();
  for (const auto& [paddr, at] : reachable_tables(pt, mem)) {
    const hw::LevelGeometry& lg = fmt.geo().at(at.level);
    uint32_t live = 0;
    for (uint64_t i = 0; i < (uint64_t{1} << lg.index_bits); i++)
      live += hw::read_entry(mem, fmt, paddr, at.level, i).decoded.kind != hw::DescKind::kEmpty;
    if (mem.meta(paddr).load() != live)
      return fmt::format("table {:#x} (level {}, iova {:#x}) counts {} live entries, holds {}",
                         paddr, at.level, at.iova, mem.meta(paddr).load(), live);
  }
  return {};
}

// An engine, its reference and a recording FlushOps, with checks after each step.
struct Rig {
  explicit Rig(hw::FormatConfig f, ref::PartialUnmap policy = ref::PartialUnmap::kSplit,
               bool free_empty = true, hw::TableMemory::Config window = {})
      : mem(window), pt({f, policy, free_empty}, mem, flush), ref(pt.domain_config()) {}

  int map(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t count,
          int prot = IOMMU_READ | IOMMU_WRITE) {
    uint64_t mapped = 0;
    const int ret = pt.map_pages(iova, paddr, pgsize, count, prot, &mapped);
    const ref::MapPagesCall call{iova, paddr, pgsize, count, prot};
    EXPECT_EQ(ref.check_map_pages(call, {ret, mapped}), std::nullopt);
    ref.apply_map_pages(call, {ret, mapped});
    last_mapped = mapped;
    return ret;
  }
  uint64_t unmap(uint64_t iova, uint64_t pgsize, uint64_t count, bool queued = false) {
    IotlbGather gather;
    gather.queued = queued;
    const uint64_t n = pt.unmap_pages(iova, pgsize, count, &gather);
    EXPECT_EQ(ref.check_unmap_pages({iova, pgsize, count}, n), std::nullopt);
    ref.apply_unmap_pages({iova, pgsize, count}, n);
    return n;
  }
  void check() {
    EXPECT_EQ(compare_tables(pt, mem, ref), "");
    EXPECT_EQ(compare_walks(pt, mem, ref), "");
    EXPECT_EQ(check_no_orphans(pt, mem), "");
    EXPECT_EQ(check_counts(pt, mem), "");
    if (pt.config().free_empty_tables) {
      EXPECT_EQ(check_empty_tables_bounded(pt, mem), "");
    }
  }

  RecordingFlush flush;
  hw::TableMemory mem;
  Pgtable pt;
  ref::RefPgtable ref;
  uint64_t last_mapped = 0;
};

}  // namespace iommu::impl::testing
