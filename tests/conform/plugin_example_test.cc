// The example plugin (examples/plugin/) loaded through conform/plugin.h and driven with random
// map_pages/unmap_pages/iova_to_phys side by side with ref::RefPgtable. After every op: the
// return value is one the reference allows, the tables hold exactly the reference's leaves
// (hw::dump_tables and hw::walk from roots()), iova_to_phys agrees, every removed leaf was
// passed to tlb_add_page, every freed table was flushed with tlb_flush_walk while still
// allocated; at teardown no table page is left. The seeded-bug twin must fail.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <ostream>

#include "base/prot.h"
#include "base/size_name.h"
#include "conform/plugin.h"
#include "hw/dump.h"
#include "hw/walker.h"
#include "ref/pgtable.h"

namespace iommu::conform {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000, kTop = uint64_t{1} << 48;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

std::string plugin_path(const char* file) { return std::string(IOMMUCHECK_PLUGIN_DIR) + "/" + file; }

using ref::Verdict;

struct Range {
  uint64_t first = 0, last = 0;  // inclusive
  bool covers(const Range& r) const { return first <= r.first && r.last <= last; }
};

// Records the flush callbacks of one op.
class RecordingFlush : public impl::FlushOps {
 public:
  struct Walk {
    Range range;
    std::vector<hw::Allocation> live;  // table memory when the flush was issued
  };

  explicit RecordingFlush(const hw::TableMemory& memory) : memory_(memory) {}

  void tlb_flush_all() override { ++flush_alls; }
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t) override {
    walks.push_back({{iova, iova + (size - 1)}, memory_.live_allocations()});
  }
  void tlb_add_page(impl::IotlbGather&, uint64_t iova, uint64_t granule) override {
    pages.push_back({iova, iova + (granule - 1)});
  }

  void clear() {
    walks.clear();
    pages.clear();
  }

  std::vector<Walk> walks;
  std::vector<Range> pages;
  int flush_alls = 0;

 private:
  const hw::TableMemory& memory_;
};

enum class OpKind { kMap, kUnmap };

struct Op {
  OpKind kind = OpKind::kMap;
  uint64_t iova = 0, paddr = 0, pgsize = 0, pgcount = 0;
  int prot = 0;
  uint64_t probe = 0;       // an extra iova_to_phys probe, as an offset from iova
  uint64_t fail_alloc = 0;  // when not 0, the nth table allocation from now fails
};

std::string describe(const Op& op) {
  const std::string fail =
      op.fail_alloc ? fmt::format(" (allocation {} fails)", op.fail_alloc) : std::string();
  if (op.kind == OpKind::kMap)
    return fmt::format("map iova={:#x} paddr={:#x} pgsize={:#x} pgcount={} prot={}{}", op.iova,
                       op.paddr, op.pgsize, op.pgcount, prot_to_string(op.prot), fail);
  return fmt::format("unmap iova={:#x} pgsize={:#x} pgcount={}", op.iova, op.pgsize,
                     op.pgcount);
}

std::ostream& operator<<(std::ostream& os, const Op& op) { return os << describe(op); }

// The first address of `r` that none of `ranges` covers.
std::optional<uint64_t> first_uncovered(Range r, std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](auto& a, auto& b) { return a.first < b.first; });
  uint64_t next = r.first;
  for (const Range& x : ranges) {
    if (x.first > next) break;
    if (x.last >= r.last) return std::nullopt;
    next = std::max(next, x.last + 1);
  }
  return next;
}

// Every table reachable from `root`, with the iova span it translates.
std::map<uint64_t, Range> table_spans(const hw::TableMemory& mem, const hw::Format& fmt,
                                      uint64_t root) {
  std::map<uint64_t, Range> spans;
  std::function<void(uint64_t, unsigned, uint64_t)> visit = [&](uint64_t table, unsigned level,
                                                                uint64_t base) {
    const hw::LevelGeometry& lg = fmt.geo().at(level);
    spans[table] = {base, base + ((uint64_t{1} << (lg.shift + lg.index_bits)) - 1)};
    for (uint64_t i = 0; lg.has_tables && i < (uint64_t{1} << lg.index_bits); i++) {
      hw::Entry e = hw::read_entry(mem, fmt, table, level, i);
      if (!e.fault && e.decoded.kind == hw::DescKind::kTable)
        visit(e.decoded.paddr, level + 1, base + (i << lg.shift));
    }
  };
  visit(root, fmt.geo().start_level, 0);
  return spans;
}

// The example driver (or a twin) beside the reference, checked after every op.
class Harness {
 public:
  explicit Harness(const std::string& plugin)
      : driver_(load_plugin(plugin, env_)),
        ref_(driver_->info().config),
        fmt_(hw::make_format(driver_->info().format)) {}

  Verdict run(const Op& op) {
    flush_.clear();
    const auto live_before = memory_.live_allocations();
    if (live_before != spans_for_) {
      spans_ = table_spans(memory_, fmt_, driver_->roots().at(0));
      spans_for_ = live_before;
    }
    if (op.fail_alloc) memory_.fail_nth_allocation(op.fail_alloc);
    std::vector<ref::LeafRun> removed;
    Verdict v = op.kind == OpKind::kMap ? map(op) : unmap(op, removed);
    if (!v) v = check_invalidated(removed);
    if (!v) v = check_freed_tables(live_before);
    if (!v) v = check_tables();
    for (uint64_t iova : {op.iova, op.iova + op.probe, op.iova + op.probe / 2})
      if (!v) v = check_translation(iova);
    if (!v) v = check_host();
    return v;
  }

  Verdict teardown() {
    driver_.reset();
    if (flush_.flush_alls == 0) return "destroy() freed the tables without tlb_flush_all";
    if (auto leaks = memory_.live_allocations(); !leaks.empty())
      return fmt::format("{} table page(s) still allocated after destroy(), first at {:#x}",
                         leaks.size(), leaks.front().paddr);
    return check_host();
  }

  Driver& driver() { return *driver_; }
  hw::TableMemory& memory() { return memory_; }

 private:
  Verdict map(const Op& op) {
    const ref::MapPagesCall call{op.iova, op.paddr, op.pgsize, op.pgcount, op.prot};
    ref::MapPagesResult got;
    got.ret = driver_->map_pages(op.iova, op.paddr, op.pgsize, op.pgcount, op.prot, &got.mapped);
    if (Verdict v = ref_.check_map_pages(call, got)) return "map_pages " + *v;
    ref_.apply_map_pages(call, got);
    return std::nullopt;
  }

  Verdict unmap(const Op& op, std::vector<ref::LeafRun>& removed) {
    const ref::UnmapPagesCall call{op.iova, op.pgsize, op.pgcount};
    impl::IotlbGather gather;
    const uint64_t got = driver_->unmap_pages(op.iova, op.pgsize, op.pgcount, &gather);
    if (Verdict v = ref_.check_unmap_pages(call, got)) return "unmap_pages " + *v;
    ref_.apply_unmap_pages(call, got, &removed);
    return std::nullopt;
  }

  Verdict check_invalidated(const std::vector<ref::LeafRun>& removed) const {
    for (const ref::LeafRun& run : removed)
      if (auto hole = first_uncovered({run.iova, run.last()}, flush_.pages))
        return fmt::format("unmapped iova {:#x} was never passed to tlb_add_page", *hole);
    return std::nullopt;
  }

  // A freed table must have been flushed from the walk caches while still allocated.
  Verdict check_freed_tables(const std::vector<hw::Allocation>& live_before) const {
    const auto live_after = memory_.live_allocations();
    for (const hw::Allocation& a : live_before) {
      if (std::find(live_after.begin(), live_after.end(), a) != live_after.end()) continue;
      const Range span = spans_.at(a.paddr);
      const bool flushed = std::any_of(flush_.walks.begin(), flush_.walks.end(), [&](auto& w) {
        return w.range.covers(span) &&
               std::find(w.live.begin(), w.live.end(), a) != w.live.end();
      });
      if (!flushed)
        return fmt::format("table {:#x} (iova {:#x}-{:#x}) freed without a tlb_flush_walk "
                           "covering it first",
                           a.paddr, span.first, span.last);
    }
    return std::nullopt;
  }

  // The prot the hardware reads back for a leaf written for `prot`.
  int hw_prot(uint64_t pgsize, int prot) const {
    return fmt_.decode(fmt_.make_leaf(0, pgsize, prot), fmt_.leaf_level(pgsize)).prot;
  }

  std::vector<hw::Mapping> expected_mappings() const {
    std::vector<hw::Mapping> out;
    for (const auto& [iova, run] : ref_.leaves().runs()) {
      hw::Mapping m{run.iova, run.paddr, run.size(), hw_prot(run.pgsize, run.prot),
                    run.pgsize, fmt_.leaf_level(run.pgsize)};
      hw::Mapping* last = out.empty() ? nullptr : &out.back();
      if (last && last->iova + last->size == m.iova && last->paddr + last->size == m.paddr &&
          last->prot == m.prot && last->leaf_size == m.leaf_size && last->level == m.level)
        last->size += m.size;
      else
        out.push_back(m);
    }
    return out;
  }

  Verdict check_tables() const {
    const hw::TableDump dump = hw::dump_tables(memory_, fmt_, driver_->roots());
    if (!dump.malformed.empty())
      return "malformed descriptor: " + hw::format_malformed(dump.malformed.front());
    const auto want = expected_mappings();
    if (dump.mappings == want) return std::nullopt;
    std::string got, exp;
    for (const auto& m : dump.mappings) got += "\n  " + hw::format_mapping(m);
    for (const auto& m : want) exp += "\n  " + hw::format_mapping(m);
    return fmt::format("the tables map{}\nbut the reference holds{}", got, exp);
  }

  Verdict check_translation(uint64_t iova) {
    const auto want = ref_.iova_to_phys(iova);
    const uint64_t got = driver_->iova_to_phys(iova);
    if (got != want.value_or(0))
      return fmt::format("iova_to_phys({:#x}) = {:#x}, expected {:#x}", iova, got,
                         want.value_or(0));
    const hw::WalkResult w = hw::walk(memory_, fmt_, driver_->roots(), iova);
    const auto leaf = ref_.leaves().leaf_at(iova);
    if (!leaf) {
      if (!w.leaf()) return std::nullopt;  // malformed tables are check_tables' business
      return fmt::format("a walk of unmapped iova {:#x} finds a leaf at {:#x}", iova,
                         w.leaf()->iova_base);
    }
    const hw::Decoded d = fmt_.decode(fmt_.make_leaf(leaf->paddr, leaf->pgsize, leaf->prot),
                                      fmt_.leaf_level(leaf->pgsize));
    const hw::Leaf expect{leaf->iova, leaf->paddr, leaf->pgsize, fmt_.leaf_level(leaf->pgsize),
                          d.perms};
    if (w.leaf() && *w.leaf() == expect) return std::nullopt;
    return fmt::format("a walk of iova {:#x} does not find the {} leaf at {:#x} -> {:#x} ({})",
                       iova, size_name(leaf->pgsize), leaf->iova, leaf->paddr,
                       w.leaf() ? "another leaf" : hw::fault_reason_name(w.fault()->reason));
  }

  Verdict check_host() {
    if (auto errors = env_.host_errors.take(); !errors.empty()) return errors.front();
    if (auto warnings = env_.warnings.take(); !warnings.empty()) return warnings.front();
    if (!memory_.bad_accesses().empty())
      return fmt::format("the driver accessed unallocated table memory at {:#x}",
                         memory_.bad_accesses().front().paddr);
    return std::nullopt;
  }

  hw::TableMemory memory_;
  RecordingFlush flush_{memory_};
  DriverEnv env_{memory_, flush_};
  std::unique_ptr<Driver> driver_;
  ref::RefPgtable ref_;
  hw::Format fmt_;
  std::map<uint64_t, Range> spans_;  // of the tables live when spans_for_ was taken
  std::vector<hw::Allocation> spans_for_;
};

// Ops that collide often: a few 1G regions, a few 2M blocks in each, a few 4K pages in each;
// sometimes near the top of the ias or oas, misaligned, or with an unsupported page size.
rc::Gen<Op> gen_op() {
  return rc::gen::exec([] {
    Op op;
    op.kind = *rc::gen::weightedElement<OpKind>({{5, OpKind::kMap}, {4, OpKind::kUnmap}});
    op.pgsize = *rc::gen::weightedElement<uint64_t>({{6, K4}, {3, M2}, {1, G1}, {1, 0x8000}});
    op.iova = *rc::gen::inRange<uint64_t>(0, 3) * G1 + *rc::gen::inRange<uint64_t>(0, 4) * M2 +
              *rc::gen::inRange<uint64_t>(0, 24) * K4;
    op.iova &= ~(op.pgsize - 1);
    if (*rc::gen::weightedElement<int>({{12, 0}, {1, 1}})) op.iova += K4;
    if (*rc::gen::weightedElement<int>({{12, 0}, {1, 1}}))
      op.iova = kTop - *rc::gen::inRange<uint64_t>(1, 4) * op.pgsize;
    op.pgcount = *rc::gen::weightedElement<uint64_t>(
        {{8, *rc::gen::inRange<uint64_t>(1, 6)},
         {2, *rc::gen::inRange<uint64_t>(1, op.pgsize == K4 ? 1100 : 20)},
         {1, 0}});
    op.paddr = (*rc::gen::inRange<uint64_t>(0, uint64_t{1} << 36) << 12) & ~(op.pgsize - 1);
    if (*rc::gen::weightedElement<int>({{12, 0}, {1, 1}}))
      op.paddr = kTop - *rc::gen::inRange<uint64_t>(1, 4) * op.pgsize;
    op.prot = *rc::gen::weightedElement<int>({{6, RW},
                                              {3, *rc::gen::inRange(0, kProtMask + 1)},
                                              {1, IOMMU_READ}});
    op.probe = *rc::gen::inRange<uint64_t>(0, 3 * M2);
    if (*rc::gen::weightedElement<int>({{12, 0}, {1, 1}}))
      op.fail_alloc = *rc::gen::inRange<uint64_t>(1, 5);
    return op;
  });
}

// Runs `ops` against the plugin; the first violation, or nullopt.
Verdict run_ops(const std::string& plugin, const std::vector<Op>& ops) {
  Harness h(plugin);
  for (size_t i = 0; i < ops.size(); i++)
    if (Verdict v = h.run(ops[i])) return fmt::format("op {} ({}): {}", i, describe(ops[i]), *v);
  return h.teardown();
}

void check_random_ops(const char* plugin) {
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
  const Verdict v = run_ops(plugin_path(plugin), ops);
  if (v) RC_FAIL(*v);
}

RC_GTEST_PROP(PluginExample, AgreesWithTheReferenceOpByOp, ()) {
  check_random_ops("example_plugin.so");
}

Op map_op(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot = RW) {
  return {OpKind::kMap, iova, paddr, pgsize, pgcount, prot, 0, 0};
}
Op unmap_op(uint64_t iova, uint64_t pgsize, uint64_t pgcount) {
  return {OpKind::kUnmap, iova, 0, pgsize, pgcount, 0, 0, 0};
}

TEST(PluginExample, ABlockReplacesAnEmptyTableAfterFlushingIt) {
  EXPECT_EQ(run_ops(plugin_path("example_plugin.so"),
                    {map_op(0, 0x40000000, K4, 3), unmap_op(0, K4, 3), map_op(0, 0, M2, 1),
                     unmap_op(0, M2, 1), map_op(0, 0, G1, 1)}),
            std::nullopt);
}

// The lower 2M's leaf table is allocated last, so nothing is allocated right after it: a run
// that does not stop at the end of its table reads unallocated memory.
TEST(PluginExample, AnUnmapRunStopsAtTheEndOfItsTable) {
  EXPECT_EQ(run_ops(plugin_path("example_plugin.so"),
                    {map_op(M2, 0x1000000, K4, 512), map_op(0, 0x2000000, K4, 512),
                     unmap_op(0, K4, 1024)}),
            std::nullopt);
}

TEST(PluginExample, PartialUnmapTakesTheWholeBlock) {
  Harness h(plugin_path("example_plugin.so"));
  ASSERT_EQ(h.run(map_op(M2, 0x80000000, M2, 2)), std::nullopt);
  impl::IotlbGather gather;
  EXPECT_EQ(h.driver().unmap_pages(M2 + 16 * K4, K4, 1, &gather), M2);
  EXPECT_EQ(h.driver().iova_to_phys(M2 + 0x1234), 0u);
  EXPECT_EQ(h.driver().iova_to_phys(2 * M2 + 0x1234), 0x80200000u + 0x1234);
}

TEST(PluginExample, RunsOutOfMemoryCleanly) {
  // The first page needs 3 new tables, the second (in the next 1G) 2 more.
  for (uint64_t n = 1; n <= 5; n++) {
    Harness h(plugin_path("example_plugin.so"));
    h.memory().fail_nth_allocation(n);
    uint64_t mapped = 0;
    EXPECT_EQ(h.driver().map_pages(G1 - K4, 0, K4, 2, RW, &mapped), -ENOMEM) << n;
    EXPECT_EQ(mapped, n >= 4 ? K4 : 0) << n;
    EXPECT_EQ(h.teardown(), std::nullopt) << n;
  }
}

TEST(PluginExample, AQueuedGatherGetsNoLeafInvalidations) {
  hw::TableMemory memory;
  RecordingFlush flush(memory);
  DriverEnv env{memory, flush};
  auto driver = load_plugin(plugin_path("example_plugin.so"), env);
  uint64_t mapped = 0;
  ASSERT_EQ(driver->map_pages(0, 0, K4, 4, RW, &mapped), 0);
  impl::IotlbGather queued;
  queued.queued = true;
  EXPECT_EQ(driver->unmap_pages(0, K4, 4, &queued), 4 * K4);
  EXPECT_TRUE(flush.pages.empty());
}

// The seeded bug: unmap_pages forgets tlb_add_page for the last leaf of a run.
TEST(PluginSeededBug, IsCaughtByTheInvalidationCheck) {
  const Verdict v = run_ops(plugin_path("example_plugin_seeded_bug.so"),
                            {map_op(0, 0, K4, 4), unmap_op(0, K4, 4)});
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "op 1 (unmap iova=0x0 pgsize=0x1000 pgcount=4): unmapped iova 0x3000 was "
                "never passed to tlb_add_page");
}

// RapidCheck prints the counterexample it finds and, at exit, how to reproduce it: expected.
TEST(PluginSeededBug, IsFoundByRandomOps) {
  EXPECT_FALSE(rc::check("the seeded-bug plugin agrees with the reference",
                         [] { check_random_ops("example_plugin_seeded_bug.so"); }));
}

}  // namespace
}  // namespace iommu::conform
