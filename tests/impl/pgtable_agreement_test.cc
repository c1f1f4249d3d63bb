// Op-by-op agreement of the engine with ref::RefPgtable, for every format and policy: random
// map_pages/unmap_pages/iova_to_phys (runs of pages crossing tables, every page size, partial
// unmaps, ops near the top of the ias). After each op: the ref accepts the outcome, the tables
// in memory map exactly what the ref holds, every removed leaf went to the gather once, every
// freed table was unlinked and walk-flushed first, no table is orphaned; at the end hardware
// walks agree with the ref and teardown frees everything.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <memory>

#include "base/bits.h"
#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

struct Harness {
  Harness(const Case& c, ref::PartialUnmap policy, bool free_empty)
      : mem(c.window),
        pt(std::make_unique<Pgtable>(PgtableConfig{c.format, policy, free_empty}, mem, flush)),
        ref(pt->domain_config()) {}

  RecordingFlush flush;
  hw::TableMemory mem;
  std::unique_ptr<Pgtable> pt;
  ref::RefPgtable ref;
};

// Where ops land: a window of a few of the largest leaves, at the bottom or the top of the ias,
// with addresses built from large, middle and small steps so that ops overlap and cut leaves.
struct Space {
  std::vector<uint64_t> sizes;
  uint64_t base = 0;
  uint64_t window = 0;
  unsigned ias = 0;
  unsigned oas = 0;
};

Space make_space(const Pgtable& pt) {
  const hw::Geometry& g = pt.format().geo();
  Space s;
  s.ias = g.ias;
  s.oas = g.oas;
  for (unsigned b = 0; b < 64; b++)
    if (g.pgsize_bitmap & bit(b)) s.sizes.push_back(bit(b));
  // amd-v1 has 38 page sizes: its four smallest and four largest, and each level's own, cover
  // what the others would (pages of several entries, splits into them) at a fraction of the
  // time.
  if (s.sizes.size() > 12) {
    std::vector<uint64_t> kept;
    for (size_t i = 0; i < s.sizes.size(); i++) {
      bool natural = false;
      for (unsigned l = g.start_level; l <= g.last_level; l++)
        natural = natural || g.at(l).leaf_size == s.sizes[i];
      if (i < 4 || i + 4 >= s.sizes.size() || natural) kept.push_back(s.sizes[i]);
    }
    s.sizes = kept;
  }
  s.window = std::min(4 * s.sizes.back(), bit(g.ias));
  s.base = *rc::gen::element(uint64_t{0}, bit(g.ias) - s.window);
  return s;
}

uint64_t gen_pgsize(const Space& s) {
  // Small pages most often: they make runs, tables and splits.
  const auto i = *rc::gen::inRange<size_t>(0, s.sizes.size() + 2);
  return s.sizes[i < 3 ? 0 : i - 2];
}

uint64_t gen_iova(const Space& s, uint64_t pgsize) {
  const uint64_t top = s.sizes.back();
  const uint64_t mid = s.sizes.size() > 1 ? s.sizes[s.sizes.size() - 2] : top;
  const uint64_t off = *rc::gen::inRange<uint64_t>(0, s.window / top) * top +
                       *rc::gen::inRange<uint64_t>(0, std::min<uint64_t>(4, top / mid)) * mid +
                       *rc::gen::inRange<uint64_t>(0, 40) * pgsize;
  return (s.base + (off % s.window)) & ~(pgsize - 1);
}

uint64_t gen_count(const Pgtable& pt, uint64_t pgsize) {
  const hw::LevelGeometry& lg = pt.format().geo().at(pt.format().leaf_level(pgsize));
  const uint64_t per_table = (uint64_t{1} << lg.index_bits) / pt.format().replicas(pgsize);
  switch (*rc::gen::inRange(0, 10)) {
    case 8:
      return *rc::gen::inRange<uint64_t>(9, 300);
    case 9:
      return *rc::gen::inRange<uint64_t>(per_table > 8 ? per_table - 8 : 1, per_table + 40);
    default:
      return *rc::gen::inRange<uint64_t>(1, 4);
  }
}

uint64_t gen_paddr(const Space& s, uint64_t pgsize, uint64_t count) {
  const uint64_t top = low_mask(s.oas);
  if (*rc::gen::inRange(0, 8) == 0)
    return (top - std::min(count, uint64_t{3}) * pgsize + 1) & ~(pgsize - 1);
  return *rc::gen::arbitrary<uint64_t>() & top & ~(pgsize - 1);
}

// An unmap aimed at a live leaf (whole, or cut by a smaller pgsize), or anywhere.
ref::UnmapPagesCall gen_unmap(const Harness& h, const Space& s) {
  const uint64_t pgsize = gen_pgsize(s);
  const uint64_t count = gen_count(*h.pt, pgsize);
  const auto& runs = h.ref.leaves().runs();
  if (runs.empty() || *rc::gen::inRange(0, 3) == 0) return {gen_iova(s, pgsize), pgsize, count};
  auto it = runs.begin();
  std::advance(it, *rc::gen::inRange<size_t>(0, runs.size()));
  const ref::LeafRun& run = it->second;
  const uint64_t at = run.iova + *rc::gen::inRange<uint64_t>(0, run.count) * run.pgsize +
                      *rc::gen::inRange<uint64_t>(0, 3) * pgsize;
  return {at & ~(pgsize - 1), pgsize, count};
}

void check_frees(Harness& h) {
  const auto now = reachable_tables(*h.pt, h.mem);
  for (const auto& [paddr, at] : h.flush.before())
    if (!now.contains(paddr) && !h.flush.flushed_ok().contains(paddr))
      RC_FAIL(
          fmt::format("table {:#x} (level {}, iova {:#x}) freed without a walk flush while "
                      "unlinked and allocated",
                      paddr, at.level, at.iova));
  if (auto e = check_no_orphans(*h.pt, h.mem); !e.empty()) RC_FAIL(e);
}

void check_tables(Harness& h) {
  if (auto e = compare_tables(*h.pt, h.mem, h.ref); !e.empty()) RC_FAIL(e);
  if (auto e = check_counts(*h.pt, h.mem); !e.empty()) RC_FAIL(e);
  if (h.pt->config().free_empty_tables)
    if (auto e = check_empty_tables_bounded(*h.pt, h.mem); !e.empty()) RC_FAIL(e);
}

void do_map(Harness& h, const Space& s) {
  const uint64_t pgsize = gen_pgsize(s);
  const uint64_t count = gen_count(*h.pt, pgsize);
  int prot = *rc::gen::inRange(0, 64);
  if (*rc::gen::inRange(0, 4) != 0) prot |= IOMMU_READ;
  const ref::MapPagesCall call{gen_iova(s, pgsize), gen_paddr(s, pgsize, count), pgsize, count,
                               prot};
  h.flush.arm(*h.pt, h.mem);
  uint64_t mapped = 0;
  const int ret = h.pt->map_pages(call.iova, call.paddr, pgsize, count, prot, &mapped);
  h.flush.disarm();
  if (auto v = h.ref.check_map_pages(call, {ret, mapped}))
    RC_FAIL(fmt::format("map_pages({:#x}, {:#x}, {:#x}, {}, {:#x}): {}", call.iova, call.paddr,
                        pgsize, count, prot, *v));
  h.ref.apply_map_pages(call, {ret, mapped});
  RC_ASSERT(h.flush.take_pages().empty());
  check_frees(h);
}

// Every gathered page is a whole leaf of the table before the call, nothing is gathered
// twice, and every removed page is in a gathered page or a walk flush (a split flushes the
// cut leaf at once, so that a cached block cannot outlive it).
void check_gather(const std::vector<RecordingFlush::Page>& pages,
                  const std::vector<RecordingFlush::Page>& walks,
                  const std::vector<ref::LeafRun>& removed, const ref::RefPgtable& before) {
  auto sorted = pages;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.iova < b.iova; });
  for (size_t i = 0; i < sorted.size(); i++) {
    const auto& p = sorted[i];
    RC_ASSERT((i == 0 || sorted[i - 1].iova + sorted[i - 1].size <= p.iova));
    const auto leaf = before.leaves().leaf_at(p.iova);
    if (!leaf || leaf->iova != p.iova || leaf->pgsize != p.size)
      RC_FAIL(fmt::format("gather page {:#x}+{:#x} is not a whole leaf", p.iova, p.size));
  }
  // The flushed ranges merged, so that a removed run of millions of pages costs as many steps
  // as there are flushes, not pages.
  using Range = std::pair<uint64_t, uint64_t>;  // [first, last]
  std::vector<Range> flushed;
  for (const auto& p : sorted) flushed.emplace_back(p.iova, p.iova + (p.size - 1));
  for (const auto& p : walks) flushed.emplace_back(p.iova, p.iova + (p.size - 1));
  std::sort(flushed.begin(), flushed.end());
  std::vector<Range> merged;
  for (const auto& f : flushed) {
    if (!merged.empty() && f.first <= merged.back().second + 1 && merged.back().second != ~uint64_t{0})
      merged.back().second = std::max(merged.back().second, f.second);
    else
      merged.push_back(f);
  }
  for (const ref::LeafRun& r : removed) {
    const uint64_t last = r.iova + (r.size() - 1);
    auto it = std::upper_bound(merged.begin(), merged.end(), Range{r.iova, ~uint64_t{0}});
    const bool starts = it != merged.begin() && std::prev(it)->second >= r.iova;
    if (starts && std::prev(it)->second >= last) continue;
    const uint64_t gap = starts ? std::prev(it)->second + 1 : r.iova;
    RC_FAIL(fmt::format("removed page {:#x}+{:#x} was not flushed",
                        r.iova + (gap - r.iova) / r.pgsize * r.pgsize, r.pgsize));
  }
}

void do_unmap(Harness& h, const Space& s) {
  const ref::UnmapPagesCall call = gen_unmap(h, s);
  const bool queued = *rc::gen::inRange(0, 6) == 0;
  const ref::RefPgtable before = h.ref;
  IotlbGather gather;
  gather.queued = queued;
  h.flush.take_walks();
  h.flush.arm(*h.pt, h.mem);
  const uint64_t n = h.pt->unmap_pages(call.iova, call.pgsize, call.pgcount, &gather);
  h.flush.disarm();
  if (auto v = h.ref.check_unmap_pages(call, n))
    RC_FAIL(
        fmt::format("unmap_pages({:#x}, {:#x}, {}): {}", call.iova, call.pgsize, call.pgcount, *v));
  std::vector<ref::LeafRun> removed;
  h.ref.apply_unmap_pages(call, n, &removed);
  const auto pages = h.flush.take_pages();
  const auto walks = h.flush.take_walks();
  if (queued)
    RC_ASSERT(pages.empty());
  else
    check_gather(pages, walks, removed, before);
  check_frees(h);
}

void do_lookup(Harness& h, const Space& s) {
  const uint64_t iova = gen_iova(s, s.sizes[0]) + *rc::gen::inRange<uint64_t>(0, s.sizes[0]);
  RC_ASSERT(h.pt->iova_to_phys(iova) == h.ref.iova_to_phys(iova).value_or(0));
}

void agree(const Case& c, ref::PartialUnmap policy, bool free_empty) {
  Harness h(c, policy, free_empty);
  const Space s = make_space(*h.pt);
  const int ops = *rc::gen::inRange(1, 40);
  for (int i = 0; i < ops; i++) {
    switch (*rc::gen::inRange(0, 5)) {
      case 0:
      case 1:
        do_map(h, s);
        break;
      case 2:
      case 3:
        do_unmap(h, s);
        break;
      default:
        do_lookup(h, s);
        break;
    }
  }
  // A full dump of every table (8192 entries each with a 64K granule) dominates the run time:
  // compared once, after the sequence; each op's result was checked as it happened.
  check_tables(h);
  if (auto e = compare_walks(*h.pt, h.mem, h.ref); !e.empty()) RC_FAIL(e);
  h.pt.reset();
  RC_ASSERT(h.mem.live_allocations().empty());
}

class PgtableAgreement : public ::testing::TestWithParam<Case> {};

TEST_P(PgtableAgreement, Split) {
  EXPECT_TRUE(
      rc::check(GetParam().label, [&] { agree(GetParam(), ref::PartialUnmap::kSplit, true); }));
}
TEST_P(PgtableAgreement, Whole) {
  EXPECT_TRUE(
      rc::check(GetParam().label, [&] { agree(GetParam(), ref::PartialUnmap::kWhole, true); }));
}
TEST_P(PgtableAgreement, Refuse) {
  EXPECT_TRUE(
      rc::check(GetParam().label, [&] { agree(GetParam(), ref::PartialUnmap::kRefuse, true); }));
}
TEST_P(PgtableAgreement, SplitKeepingEmptyTables) {
  EXPECT_TRUE(
      rc::check(GetParam().label, [&] { agree(GetParam(), ref::PartialUnmap::kSplit, false); }));
}

INSTANTIATE_TEST_SUITE_P(Formats, PgtableAgreement, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace iommu::impl::testing
