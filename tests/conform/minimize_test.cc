// ddmin and the field passes against synthetic "still fails" predicates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>

#include "base/prot.h"
#include "conform/minimize.h"

namespace iommu::conform {
namespace {

using ::testing::ElementsAre;

bool has(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) v[static_cast<size_t>(i)] = i;
  return v;
}

TEST(Ddmin, FindsThePairThatFails) {
  TestBudget budget(10000);
  auto fails = [](const std::vector<int>& v) { return has(v, 17) && has(v, 80); };
  EXPECT_THAT(ddmin(iota_vector(100), fails, budget), ElementsAre(17, 80));
  EXPECT_GT(budget.used(), 0u);
}

TEST(Ddmin, SingleCulprit) {
  TestBudget budget(10000);
  auto fails = [](const std::vector<int>& v) { return has(v, 99); };
  EXPECT_THAT(ddmin(iota_vector(100), fails, budget), ElementsAre(99));
}

TEST(Ddmin, KeepsOrderOfThree) {
  TestBudget budget(10000);
  auto fails = [](const std::vector<int>& v) { return has(v, 3) && has(v, 41) && has(v, 7); };
  EXPECT_THAT(ddmin(iota_vector(50), fails, budget), ElementsAre(3, 7, 41));
}

// Order matters: fails iff 5 comes somewhere before 2 (the input is reversed).
TEST(Ddmin, OrderDependentFailure) {
  TestBudget budget(10000);
  std::vector<int> v = iota_vector(10);
  std::reverse(v.begin(), v.end());
  auto fails = [](const std::vector<int>& s) {
    auto a = std::find(s.begin(), s.end(), 5), b = std::find(s.begin(), s.end(), 2);
    return a != s.end() && b != s.end() && a < b;
  };
  EXPECT_THAT(ddmin(v, fails, budget), ElementsAre(5, 2));
}

TEST(Ddmin, StopsWhenTheBudgetIsSpent) {
  TestBudget budget(3);
  auto fails = [](const std::vector<int>& v) { return has(v, 17) && has(v, 80); };
  std::vector<int> out = ddmin(iota_vector(100), fails, budget);
  EXPECT_EQ(budget.used(), 3u);
  EXPECT_TRUE(fails(out));
}

// Any monotone "contains all of S" predicate shrinks to exactly S.
RC_GTEST_PROP(Ddmin, ShrinksToTheCulpritSet, ()) {
  int n = *rc::gen::inRange(1, 200);
  auto culprits = *rc::gen::nonEmpty(
      rc::gen::container<std::set<int>>(rc::gen::inRange(0, n)));
  auto fails = [&](const std::vector<int>& v) {
    return std::all_of(culprits.begin(), culprits.end(), [&](int c) { return has(v, c); });
  };
  TestBudget budget(100000);
  std::vector<int> out = ddmin(iota_vector(n), fails, budget);
  RC_ASSERT(out == std::vector<int>(culprits.begin(), culprits.end()));
}

constexpr int R = IOMMU_READ;

// A failure that needs a map of at least 8K followed by an unmap of the same iova.
bool map_then_unmap(const std::vector<Op>& ops) {
  bool mapped = false;
  for (const Op& op : ops) {
    if (auto* m = std::get_if<MapOp>(&op)) mapped |= m->iova == 0x10000 && m->size >= 0x2000;
    if (auto* u = std::get_if<UnmapOp>(&op); u && mapped && u->iova == 0x10000) return true;
  }
  return false;
}

TEST(Minimize, OpsThenSizes) {
  std::vector<Op> ops;
  for (uint64_t i = 0; i < 40; i++) ops.push_back(IovaToPhysOp{i << 12});
  ops.insert(ops.begin() + 7, MapOp{0x10000, 0x80000000, 0x200000, R});
  ops.insert(ops.begin() + 30, UnmapOp{0x10000, 0x200000});
  MinimizeResult r = minimize(ops, map_then_unmap);
  // The map's size goes to the smallest failing one the passes reach (8K); the unmap's to its
  // lowest set bit... and further down: 4K, 2K, ... 1 byte.
  EXPECT_THAT(r.ops, ElementsAre(Op{MapOp{0x10000, 0x80000000, 0x2000, R}}, Op{UnmapOp{0x10000, 1}}));
  EXPECT_GT(r.tests, 0u);
}

// A failure that needs an odd number of 4K pages: halving never keeps that, the lowest set
// bit does.
TEST(Minimize, SizeDropsToItsLowestSetBit) {
  std::vector<Op> ops = {UnmapOp{0, 0x7000}};
  auto fails = [](const std::vector<Op>& o) {
    auto* u = o.empty() ? nullptr : std::get_if<UnmapOp>(&o[0]);
    return u && u->size % 0x2000 == 0x1000;
  };
  MinimizeResult r = minimize(ops, fails);
  EXPECT_THAT(r.ops, ElementsAre(Op{UnmapOp{0, 0x1000}}));
}

TEST(Minimize, PageCountsShrink) {
  std::vector<Op> ops = {MapPagesOp{0, 0, 0x1000, 1000, R}, FlushIotlbAllOp{}};
  auto fails = [](const std::vector<Op>& o) {
    auto* m = o.empty() ? nullptr : std::get_if<MapPagesOp>(&o[0]);
    return m && m->pgcount >= 300 && m->pgsize >= 0x1000;
  };
  MinimizeResult r = minimize(ops, fails);
  EXPECT_THAT(r.ops, ElementsAre(Op{MapPagesOp{0, 0, 0x1000, 300, R}}));
}

TEST(Minimize, ScatterlistShrinks) {
  MapSgOp sg{0, R, {}};
  for (uint64_t i = 0; i < 16; i++) sg.segs.push_back({0x100000 * i, 0x3000});
  auto fails = [](const std::vector<Op>& o) {
    auto* m = o.size() == 1 ? std::get_if<MapSgOp>(&o[0]) : nullptr;
    if (!m) return false;
    bool five = false, nine = false;
    for (const auto& s : m->segs) {
      five |= s.paddr == 0x500000 && s.length >= 0x1000;
      nine |= s.paddr == 0x900000;
    }
    return five && nine;
  };
  MinimizeResult r = minimize({sg}, fails);
  ASSERT_EQ(r.ops.size(), 1u);
  const auto& segs = std::get<MapSgOp>(r.ops[0]).segs;
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].paddr, 0x500000u);
  EXPECT_EQ(segs[0].length, 0x1000u);
  EXPECT_EQ(segs[1].paddr, 0x900000u);
  EXPECT_EQ(segs[1].length, 1u);
}

TEST(Minimize, NothingToRemove) {
  std::vector<Op> ops = {FlushIotlbAllOp{}};
  MinimizeResult r = minimize(ops, [](const std::vector<Op>& o) { return !o.empty(); });
  EXPECT_THAT(r.ops, ElementsAre(Op{FlushIotlbAllOp{}}));
}

TEST(Minimize, BudgetBoundsTheWork) {
  std::vector<Op> ops(200, Op{IovaToPhysOp{0}});
  size_t calls = 0;
  auto fails = [&](const std::vector<Op>& o) {
    ++calls;
    return o.size() >= 150;
  };
  MinimizeResult r = minimize(ops, fails, 25);
  EXPECT_EQ(r.tests, 25u);
  EXPECT_EQ(calls, 25u);
  EXPECT_GE(r.ops.size(), 150u);
}

}  // namespace
}  // namespace iommu::conform
