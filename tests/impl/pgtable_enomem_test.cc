// Errors without residue: every allocation an operation makes is failed in turn (n = 1, 2, ...
// until none fails). A failed map reports what it mapped; once the caller unmaps that, the
// tables are exactly as before, with no table page leaked. A split that cannot allocate unmaps
// nothing of that leaf and leaves the tables consistent.
#include <gtest/gtest.h>

#include <cerrno>

#include "base/bits.h"
#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

std::vector<uint64_t> sizes_of(const hw::Format& fmt) {
  std::vector<uint64_t> out;
  for (unsigned b = 0; b < 64; b++)
    if (fmt.geo().pgsize_bitmap & bit(b)) out.push_back(bit(b));
  return out;
}

// A boundary that every level below the root changes at, inside the ias.
uint64_t deep_boundary(const hw::Format& fmt) {
  const hw::Geometry& g = fmt.geo();
  return std::min(bit(g.at(g.start_level).shift), bit(g.ias - 1));
}

struct MapScenario {
  uint64_t iova, pgsize, count;
};

// Runs of the smallest and the next size across the deep boundary, enough pages to need
// several new tables on the far side.
std::vector<MapScenario> map_scenarios(const hw::Format& fmt) {
  std::vector<MapScenario> out;
  const uint64_t t = deep_boundary(fmt);
  const auto sizes = sizes_of(fmt);
  for (size_t i = 0; i < std::min<size_t>(2, sizes.size()); i++) {
    const uint64_t s = sizes[i];
    if (4 * s > t) continue;
    const hw::LevelGeometry& lg = fmt.geo().at(fmt.leaf_level(s));
    const uint64_t per_table = (uint64_t{1} << lg.index_bits) / fmt.replicas(s);
    out.push_back({t - 3 * s, s, per_table + 5});
  }
  return out;
}

// Returns how many allocations the operation makes.
uint64_t sweep_map(const Case& c, bool free_empty, const MapScenario& m) {
  for (uint64_t n = 1;; n++) {
    SCOPED_TRACE(::testing::Message() << c.label << " map " << m.count << " x " << m.pgsize
                                      << " at " << m.iova << ", failing allocation " << n);
    Rig r(c.format, ref::PartialUnmap::kSplit, free_empty, c.window);
    EXPECT_EQ(r.map(m.iova - m.pgsize, 0, m.pgsize, 1), 0);  // tables on the near side
    const auto before = r.mem.live_allocations();
    const uint64_t seq = r.mem.allocations_requested();
    r.mem.fail_nth_allocation(n);
    const int ret = r.map(m.iova, 0, m.pgsize, m.count);
    const bool failed = r.mem.allocations_requested() - seq >= n;
    EXPECT_EQ(ret, failed ? -ENOMEM : 0);
    if (failed && r.last_mapped) {
      EXPECT_EQ(r.unmap(m.iova, m.pgsize, r.last_mapped / m.pgsize), r.last_mapped);
    }
    r.check();
    if (failed && free_empty) {
      EXPECT_EQ(tables_in_use(r.pt, r.mem), before);
    }
    if (!failed || ::testing::Test::HasFailure()) return n - 1;
  }
}

// A leaf of the largest size that has smaller ones, cut by one smallest page: every table of
// the split is an allocation that may fail.
uint64_t sweep_split(const Case& c) {
  const hw::Format fmt = hw::make_format(c.format);
  const auto sizes = sizes_of(fmt);
  if (sizes.size() < 2) return 1;
  const uint64_t big = sizes.back() < bit(fmt.geo().ias) ? sizes.back() : sizes[sizes.size() - 2];
  const uint64_t small = sizes[0];
  for (uint64_t n = 1;; n++) {
    SCOPED_TRACE(::testing::Message()
                 << c.label << " split " << big << ", failing allocation " << n);
    Rig r(c.format, ref::PartialUnmap::kSplit, true, c.window);
    EXPECT_EQ(r.map(0, 0, big, 1), 0);
    const auto before = r.mem.live_allocations();
    const uint64_t seq = r.mem.allocations_requested();
    r.mem.fail_nth_allocation(n);
    r.flush.take_walks();
    IotlbGather gather;
    const uint64_t got = r.pt.unmap_pages(big / 2 + small, small, 1, &gather);
    const bool failed = r.mem.allocations_requested() - seq >= n;
    // Linux's split returns 0 when it cannot allocate; the reference has no such outcome, so
    // it is applied only when the split went through.
    EXPECT_EQ(got, failed ? 0 : small);
    if (!failed) r.ref.apply_unmap_pages({big / 2 + small, small, 1}, got);
    EXPECT_EQ(r.flush.take_pages().size(), 0u);
    EXPECT_EQ(r.flush.take_walks().size(), failed ? 0u : 1u) << "a split flushes the cut leaf";
    r.check();
    if (failed) {
      EXPECT_EQ(r.mem.live_allocations(), before);
    }
    if (!failed || ::testing::Test::HasFailure()) return n - 1;
  }
}

class PgtableEnomem : public ::testing::TestWithParam<Case> {};

TEST_P(PgtableEnomem, FailedMapLeavesNoResidueOnceUnmapped) {
  for (const MapScenario& m : map_scenarios(hw::make_format(GetParam().format)))
    EXPECT_GE(sweep_map(GetParam(), true, m), 1u) << "no allocation was failed";
}

TEST_P(PgtableEnomem, FailedMapLeaksNothingWhenEmptyTablesAreKept) {
  for (const MapScenario& m : map_scenarios(hw::make_format(GetParam().format)))
    EXPECT_GE(sweep_map(GetParam(), false, m), 1u) << "no allocation was failed";
}

TEST_P(PgtableEnomem, FailedSplitChangesNothing) {
  EXPECT_GE(sweep_split(GetParam()), 1u) << "no allocation was failed";
}

INSTANTIATE_TEST_SUITE_P(Formats, PgtableEnomem, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace iommu::impl::testing
