// Walk cache behaviour: leaf-only invalidations keep intermediate entries, Leaf=0 and context
// invalidations remove them, and lookups return the deepest cached table.
#include "hw/walk_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "hw/invalidation.h"
#include "hw/invalidation_encode.h"

namespace iommu::hw {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr uint64_t k1G = 0x40000000;

// A 4K LPAE walk of 0x40201000: level-1 descriptor (1G span) -> table, level-2 (2M) -> table.
WalkCache primed(CacheConfig cfg = {}) {
  WalkCache wc(cfg);
  wc.insert(1, 0x40201000, {1, 0x100000, k1G, 2});
  wc.insert(1, 0x40201000, {2, 0x200000, k2M, 3});
  return wc;
}

TEST(WalkCache, LookupReturnsDeepest) {
  WalkCache wc = primed();
  EXPECT_EQ(wc.lookup_deepest(1, 0x40200000), (WalkHit{2, 0x200000, k2M, 3}));
  EXPECT_EQ(wc.lookup_deepest(1, 0x40400000), (WalkHit{1, 0x100000, k1G, 2}));
  EXPECT_FALSE(wc.lookup_deepest(1, 0x80000000).has_value());
}

TEST(WalkCache, EntriesInListsOverlappingSpansWithTheirBase) {
  WalkCache wc = primed();
  auto in = wc.entries_in(1, 0x40300000, 0x40300fff);
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0], (std::pair<uint64_t, WalkHit>{0x40200000, {2, 0x200000, k2M, 3}}));
  EXPECT_EQ(in[1], (std::pair<uint64_t, WalkHit>{0x40000000, {1, 0x100000, k1G, 2}}));
  EXPECT_EQ(wc.entries_in(1, 0x40400000, 0x40400fff).size(), 1u);
  EXPECT_TRUE(wc.entries_in(1, 0x80000000, 0xffffffff).empty());
}

TEST(WalkCache, LeafOnlyRangeKeepsWalkEntries) {
  WalkCache wc = primed();
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .asid = 1, .leaf = true}, 0x40200000, k2M,
                                k4K, {});
  for (const SmmuCmd& c : cmds) EXPECT_EQ(wc.invalidate(smmu_decode(c)), 0u);
  EXPECT_EQ(wc.size(), 2u);
  EXPECT_EQ(wc.invalidate(vtd_decode(vtd_encode_range(1, 0x40200000, 0x403fffff, true, 63))), 0u);
  EXPECT_EQ(wc.invalidate(amd_decode(amd_encode_range(1, 0x40200000, 0x403fffff, false))), 0u);
  EXPECT_EQ(wc.size(), 2u);
}

TEST(WalkCache, NonLeafRangeClearsOverlappingEntries) {
  WalkCache wc = primed();
  wc.insert(1, 0x40600000, {2, 0x300000, k2M, 3});
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .asid = 1}, 0x40200000, k2M, k4K, {});
  for (const SmmuCmd& c : cmds) wc.invalidate(smmu_decode(c));
  // The 1G entry spans the range too: a walk flush must drop every level above the leaves.
  EXPECT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc.lookup_deepest(1, 0x40600000), (WalkHit{2, 0x300000, k2M, 3}));
  EXPECT_FALSE(wc.lookup_deepest(1, 0x40200000).has_value());
}

TEST(WalkCache, ContextIsolationAndAll) {
  WalkCache wc = primed();
  wc.insert(2, 0, {1, 0x900000, k1G, 2});
  EXPECT_EQ(wc.invalidate(Command::by_range(2, {0x40200000, 0x40200fff}, false)), 0u);
  EXPECT_EQ(wc.invalidate(Command::context(1)), 2u);
  EXPECT_TRUE(wc.lookup_deepest(2, 0x1000).has_value());
  EXPECT_EQ(wc.invalidate(Command::all()), 1u);
  EXPECT_EQ(wc.size(), 0u);
}

TEST(WalkCache, OffCachesNothing) {
  WalkCache wc = primed({.mode = CacheMode::kOff});
  EXPECT_EQ(wc.size(), 0u);
  EXPECT_FALSE(wc.lookup_deepest(1, 0x40201000).has_value());
}

TEST(WalkCache, RealisticRespectsCapacity) {
  WalkCache wc({.mode = CacheMode::kRealistic, .capacity = 4, .seed = 1});
  for (uint64_t i = 0; i < 64; ++i) wc.insert(1, i * k2M, {2, 0x1000 * i, k2M, 3});
  EXPECT_EQ(wc.size(), 4u);
}

TEST(WalkCache, RejectsNonPowerOfTwoSpan) {
  WalkCache wc;
  EXPECT_THROW(wc.insert(1, 0, {2, 0, 3 * k2M, 3}), std::invalid_argument);
}

}  // namespace
}  // namespace iommu::hw
