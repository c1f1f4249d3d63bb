// One test per rule of RefPgtable::check_map_pages and check_unmap_pages: each pins the outcome
// the rule rejects and the nearest outcome it allows, so a rule dropped, widened or narrowed
// by one is seen.
#include <gtest/gtest.h>

#include <cerrno>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

RefPgtable table(PartialUnmap policy = PartialUnmap::kSplit) {
  return RefPgtable({K4 | M2 | G1, 48, 40, policy, false, Invalidation::kStrict});
}

bool allowed(const RefPgtable& t, const MapPagesCall& c, MapPagesResult r) {
  return !t.check_map_pages(c, r).has_value();
}
bool allowed(const RefPgtable& t, const UnmapPagesCall& c, uint64_t n) {
  return !t.check_unmap_pages(c, n).has_value();
}

// --- map_pages -------------------------------------------------------------------------------

TEST(MapPagesRules, TheReferenceOutcomeIsAllowed) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  for (const MapPagesCall& c : {MapPagesCall{0, 0x100000, K4, 8, RW},   // -EEXIST after 4
                                MapPagesCall{0, 0x100000, K4, 4, RW},   // fits exactly
                                MapPagesCall{0, 0, K4, 0, RW},          // invalid
                                MapPagesCall{0, (uint64_t{1} << 40) - K4, K4, 2, RW}}) {
    EXPECT_TRUE(allowed(t, c, t.expected_map_pages(c))) << c.iova << " " << c.pgcount;
  }
}

TEST(MapPagesRules, InvalidArgumentsAllowOnlyTheExactErrorAndNothingMapped) {
  RefPgtable t = table();
  const MapPagesCall no_pages{0, 0, K4, 0, RW};
  EXPECT_TRUE(allowed(t, no_pages, {-EINVAL, 0}));
  EXPECT_FALSE(allowed(t, no_pages, {-ENOMEM, 0})) << "-ENOMEM is allowed only for valid calls";
  const MapPagesCall beyond_ias{uint64_t{1} << 48, 0, K4, 1, 0};
  EXPECT_EQ(t.expected_map_pages(beyond_ias).ret, -ERANGE) << "range is checked before prot";
  EXPECT_FALSE(allowed(t, beyond_ias, {-EINVAL, 0}));
  const MapPagesCall no_prot{0, 0, K4, 1, IOMMU_CACHE};
  EXPECT_EQ(t.expected_map_pages(no_prot).ret, -EINVAL);
  EXPECT_FALSE(allowed(t, no_prot, {0, K4})) << "prot without READ or WRITE mapped";
  const MapPagesCall misaligned_paddr{0, K4, M2, 1, RW};
  EXPECT_EQ(t.expected_map_pages(misaligned_paddr).ret, -EINVAL);
  EXPECT_FALSE(allowed(t, misaligned_paddr, {-ENOMEM, 0}));
}

TEST(MapPagesRules, TheAddressSpacesEndAtTheirLastWholePage) {
  RefPgtable t = table();
  const uint64_t ias_top = uint64_t{1} << 48, oas_top = uint64_t{1} << 40;
  EXPECT_EQ(t.expected_map_pages({ias_top - K4, 0, K4, 1, RW}), (MapPagesResult{0, K4}));
  EXPECT_EQ(t.expected_map_pages({ias_top - K4, 0, K4, 3, RW}), (MapPagesResult{-ERANGE, K4}));
  EXPECT_EQ(t.expected_map_pages({ias_top - M2, 0, M2, 1, RW}), (MapPagesResult{0, M2}));
  EXPECT_EQ(t.expected_map_pages({ias_top - K4, 0, M2, 1, RW}).ret, -EINVAL);
  EXPECT_EQ(t.expected_map_pages({0, oas_top - M2, M2, 2, RW}), (MapPagesResult{-ERANGE, M2}));
  EXPECT_EQ(t.expected_map_pages({0, oas_top - K4, K4, 1, RW}), (MapPagesResult{0, K4}));
  EXPECT_EQ(t.expected_map_pages({0, oas_top, K4, 1, RW}).ret, -ERANGE);
}

TEST(MapPagesRules, MappedMustBeWholePages) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  const MapPagesCall c{0, 0x100000, K4, 8, RW};
  EXPECT_TRUE(allowed(t, c, {-EEXIST, 2 * K4}));
  EXPECT_FALSE(allowed(t, c, {-EEXIST, 2 * K4 + 0x800})) << "half a page";
  EXPECT_FALSE(allowed(t, c, {-ENOMEM, 1})) << "one byte";
}

TEST(MapPagesRules, NothingPastTheFirstConflictOrTheEndOfTheSpace) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  const MapPagesCall c{0, 0x100000, K4, 8, RW};
  EXPECT_TRUE(allowed(t, c, {-ENOMEM, 4 * K4})) << "every free page, then out of memory";
  EXPECT_FALSE(allowed(t, c, {-ENOMEM, 5 * K4})) << "over the live page";
  EXPECT_FALSE(allowed(t, c, {-EEXIST, 5 * K4}));
  const MapPagesCall top{(uint64_t{1} << 48) - 2 * K4, 0, K4, 4, RW};
  EXPECT_TRUE(allowed(t, top, {-ERANGE, 2 * K4}));
  EXPECT_FALSE(allowed(t, top, {-ERANGE, 3 * K4})) << "past the top of the ias";
}

TEST(MapPagesRules, AConflictInsideALargerLeafRefusesTheFirstPage) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0, M2, 1, RW}).ret, 0);
  EXPECT_EQ(t.expected_map_pages({8 * K4, 0, K4, 2, RW}), (MapPagesResult{-EEXIST, 0}));
  EXPECT_EQ(t.expected_map_pages({M2 - K4, 0, K4, 2, RW}), (MapPagesResult{-EEXIST, 0}));
  EXPECT_EQ(t.expected_map_pages({M2, 0, K4, 2, RW}), (MapPagesResult{0, 2 * K4}));
  EXPECT_EQ(t.expected_map_pages({M2 - 2 * K4, 0, K4, 1, RW}).ret, -EEXIST);
}

TEST(MapPagesRules, ReturningZeroMeansProgress) {
  RefPgtable t = table();
  const MapPagesCall c{0, 0, K4, 8, RW};
  EXPECT_TRUE(allowed(t, c, {0, K4})) << "stop after one page; the core calls again";
  EXPECT_FALSE(allowed(t, c, {0, 0})) << "the core would loop forever";
  // Also where the reference fails further on: the driver stopped before the conflict or the
  // end of the space, and the core's next call meets it.
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  EXPECT_TRUE(allowed(t, c, {0, 2 * K4})) << "stopped before the conflict";
  EXPECT_FALSE(allowed(t, c, {0, 0}));
  const MapPagesCall top{(uint64_t{1} << 48) - 2 * K4, 0, K4, 4, RW};
  EXPECT_TRUE(allowed(t, top, {0, K4})) << "stopped before the end of the ias";
}

TEST(MapPagesRules, OnlyZeroEnomemOrTheExpectedErrno) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({4 * K4, 0, K4, 1, RW}).ret, 0);
  const MapPagesCall eexist{0, 0x100000, K4, 8, RW};
  EXPECT_TRUE(allowed(t, eexist, {-EEXIST, 0}));
  EXPECT_TRUE(allowed(t, eexist, {-ENOMEM, 0}));
  EXPECT_FALSE(allowed(t, eexist, {-ERANGE, 0}));
  EXPECT_FALSE(allowed(t, eexist, {-EINVAL, K4}));
  const MapPagesCall fits{0x100000, 0, K4, 2, RW};
  EXPECT_TRUE(allowed(t, fits, {-ENOMEM, K4}));
  EXPECT_FALSE(allowed(t, fits, {-EEXIST, K4})) << "nothing is in the way";
  EXPECT_FALSE(allowed(t, fits, {-EIO, 0}));
}

TEST(MapPagesRules, ApplyingAnOutcomeMapsExactlyWhatItReported) {
  RefPgtable t = table();
  t.apply_map_pages({0, 0x100000, K4, 8, RW}, {-ENOMEM, 3 * K4});
  EXPECT_EQ(t.iova_to_phys(2 * K4), 0x102000u);
  EXPECT_EQ(t.iova_to_phys(3 * K4), std::nullopt);
  t.apply_map_pages({M2, 0, K4, 8, RW}, {-EEXIST, 0});
  EXPECT_EQ(t.iova_to_phys(M2), std::nullopt);
}

// --- unmap_pages -----------------------------------------------------------------------------

TEST(UnmapPagesRules, InvalidArgumentsMustReturnZero) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0, K4, 512, RW}).ret, 0);
  for (const UnmapPagesCall& c : {UnmapPagesCall{0, 0x3000, 1}, UnmapPagesCall{0, K4, 0},
                                  UnmapPagesCall{K4, M2, 1}, UnmapPagesCall{0, 0x10000, 1}}) {
    EXPECT_EQ(t.expected_unmap_pages(c), 0u) << c.pgsize;
    EXPECT_TRUE(allowed(t, c, 0));
    EXPECT_FALSE(allowed(t, c, K4)) << c.pgsize << " " << c.pgcount;
  }
  // Whole live slots of an invalid size: what the table-slot rule would otherwise accept.
  EXPECT_FALSE(allowed(t, {0, 0x10000, 1}, 0x10000)) << "64K is not a page size here";
  EXPECT_FALSE(allowed(t, {K4, M2, 1}, M2)) << "iova not aligned to pgsize";
  const uint64_t top = uint64_t{1} << 48;
  EXPECT_FALSE(allowed(t, {top, K4, 1}, K4)) << "beyond the ias";
  EXPECT_TRUE(allowed(t, {top - K4, K4, 1}, 0)) << "the last page is valid, and a hole";
}

TEST(UnmapPagesRules, ZeroOnlyForAHole) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({K4, 0, K4, 1, RW}).ret, 0);
  EXPECT_TRUE(allowed(t, {0, K4, 2}, 0)) << "iova is a hole: nothing";
  EXPECT_FALSE(allowed(t, {K4, K4, 1}, 0));
  EXPECT_EQ(t.expected_unmap_pages({0, K4, 2}), 0u);
}

TEST(UnmapPagesRules, AnEarlyStopMustFallOnAPgsizeBoundary) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0, K4, 1024, RW}).ret, 0);  // 4 MiB of 4K pages
  const UnmapPagesCall c{0, M2, 2};
  EXPECT_EQ(t.expected_unmap_pages(c), 2 * M2);
  EXPECT_TRUE(allowed(t, c, M2));
  EXPECT_FALSE(allowed(t, c, M2 + K4)) << "not a whole number of pgsize";
  EXPECT_FALSE(allowed(t, c, 2 * M2 - K4));
}

TEST(UnmapPagesRules, AnEarlyStopMayCutALeafOnlyWhenSplitting) {
  for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kRefuse}) {
    RefPgtable t = table(policy);
    ASSERT_EQ(t.map_pages({0, 0, M2, 1, RW}).ret, 0);
    const UnmapPagesCall c{0, K4, 512};
    EXPECT_EQ(t.expected_unmap_pages(c), M2);
    EXPECT_EQ(allowed(t, c, K4), policy == PartialUnmap::kSplit) << static_cast<int>(policy);
  }
}

TEST(UnmapPagesRules, AWholeDriverStopsEarlyOnlyAfterWholeLeaves) {
  RefPgtable t = table(PartialUnmap::kWhole);
  ASSERT_EQ(t.map_pages({0, 0, M2, 1, RW}).ret, 0);
  ASSERT_EQ(t.map_pages({M2, M2, K4, 2, RW}).ret, 0);
  // Starting inside the block, the whole block goes: an answer of one page is a split.
  const UnmapPagesCall inside{M2 - K4, K4, 2};
  EXPECT_EQ(t.expected_unmap_pages(inside), M2);
  EXPECT_FALSE(allowed(t, inside, K4));
  // From the block's start, stopping after it (before the 4K pages) is whole leaves.
  const UnmapPagesCall from_start{0, K4, 514};
  EXPECT_EQ(t.expected_unmap_pages(from_start), M2 + 2 * K4);
  EXPECT_TRUE(allowed(t, from_start, M2));
  EXPECT_TRUE(allowed(t, from_start, M2 + K4));
}

TEST(UnmapPagesRules, AFailedSplitAllocationStopsASplitDriverBeforeTheLeaf) {
  // Two pages, then a block the request ends inside: splitting it needs a table.
  for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kWhole}) {
    RefPgtable t = table(policy);
    ASSERT_EQ(t.map_pages({M2 - 2 * K4, 0x100000, K4, 2, RW}).ret, 0);
    ASSERT_EQ(t.map_pages({M2, 0, M2, 1, RW}).ret, 0);
    const bool split = policy == PartialUnmap::kSplit;
    // Starting at the block: with the allocation failed, a SPLIT driver unmaps nothing, and
    // that 0 is allowed only then; a WHOLE driver needs no table and must remove the block.
    const UnmapPagesCall at_block{M2, K4, 1};
    EXPECT_EQ(t.check_unmap_pages(at_block, 0, true).has_value(), !split);
    EXPECT_TRUE(t.check_unmap_pages(at_block, 0, false).has_value());
    // Starting at the pages: they need no table, so stopping before them is never allowed.
    const UnmapPagesCall before_block{M2 - 2 * K4, K4, 4};
    EXPECT_TRUE(t.check_unmap_pages(before_block, 0, true).has_value());
  }
}

// Linux LPAE splits every leaf larger than the call's pgsize, even one the request covers
// whole: with the allocation failed it unmaps nothing, which only a SPLIT driver may.
TEST(UnmapPagesRules, AFailedSplitAllocationMayStopBeforeALargerLeafCoveredWhole) {
  for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kWhole}) {
    RefPgtable t = table(policy);
    ASSERT_EQ(t.map_pages({M2, 0, M2, 1, RW}).ret, 0);
    ASSERT_EQ(t.map_pages({2 * M2, M2, K4, 1, RW}).ret, 0);
    const bool split = policy == PartialUnmap::kSplit;
    const UnmapPagesCall over_block{M2, K4, 513};  // the block whole, then the page after it
    EXPECT_EQ(t.expected_unmap_pages(over_block), M2 + K4);
    EXPECT_EQ(t.check_unmap_pages(over_block, 0, true).has_value(), !split);
    EXPECT_TRUE(t.check_unmap_pages(over_block, 0, false).has_value());
    // In its own size the block needs no split: nothing unmapped stays wrong.
    EXPECT_TRUE(t.check_unmap_pages({M2, M2, 1}, 0, true).has_value());
  }
}

TEST(UnmapPagesRules, MoreThanTheReferenceOnlyOverWholeLiveSlots) {
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({0, 0, K4, 100, RW}).ret, 0);
  ASSERT_EQ(t.map_pages({M2 + K4, M2, K4, 1, RW}).ret, 0);
  const UnmapPagesCall two{0, M2, 2};
  EXPECT_EQ(t.expected_unmap_pages(two), 100 * K4);
  EXPECT_TRUE(allowed(t, two, M2)) << "one table slot";
  EXPECT_TRUE(allowed(t, two, 2 * M2)) << "two slots, each holding a mapping";
  EXPECT_FALSE(allowed(t, two, M2 + K4)) << "not slot granular";
  EXPECT_FALSE(allowed(t, two, 3 * M2)) << "beyond the request";
  const UnmapPagesCall three{0, M2, 3};
  EXPECT_FALSE(allowed(t, three, 3 * M2)) << "the third slot is empty";
  EXPECT_TRUE(allowed(t, three, 2 * M2));
}

TEST(UnmapPagesRules, ASlotIsLiveOnlyByWhatLiesInsideIt) {
  // Slot 1 is empty; slot 2 begins with a mapped page, one byte past slot 1's end.
  RefPgtable t = table();
  ASSERT_EQ(t.map_pages({K4, 0, K4, 1, RW}).ret, 0);
  ASSERT_EQ(t.map_pages({2 * M2, 0, K4, 1, RW}).ret, 0);
  EXPECT_FALSE(allowed(t, {0, M2, 2}, 2 * M2));
  EXPECT_TRUE(allowed(t, {0, M2, 2}, M2));
}

TEST(UnmapPagesRules, MoreThanTheReferenceNeverUnderWhole) {
  RefPgtable t = table(PartialUnmap::kWhole);
  ASSERT_EQ(t.map_pages({0, 0, K4, 100, RW}).ret, 0);
  EXPECT_EQ(t.expected_unmap_pages({0, M2, 1}), 100 * K4);
  EXPECT_FALSE(allowed(t, {0, M2, 1}, M2));
}

TEST(UnmapPagesRules, MoreThanTheReferenceMayEndInsideALeafOnlyWhenSplitting) {
  // Slot [G1 - M2, G1) holds one page (not at its start); a 1G block follows. Two 2M slots
  // end inside the block.
  for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kRefuse}) {
    RefPgtable t = table(policy);
    ASSERT_EQ(t.map_pages({G1 - M2 + K4, 0, K4, 1, RW}).ret, 0);
    ASSERT_EQ(t.map_pages({G1, G1, G1, 1, RW}).ret, 0);
    const UnmapPagesCall c{G1 - M2, M2, 2};
    EXPECT_EQ(t.expected_unmap_pages(c), 0u);
    EXPECT_EQ(allowed(t, c, 2 * M2), policy == PartialUnmap::kSplit) << static_cast<int>(policy);
    EXPECT_TRUE(allowed(t, c, M2)) << static_cast<int>(policy);
  }
}

TEST(UnmapPagesRules, ARequestPastTheTopOfTheSpaceEndsAtTheTop) {
  // ias 64: three 2M slots asked from 4M below 2^64 are two slots, 4M, not a byte less.
  RefPgtable t({K4 | M2 | G1, 64, 40, PartialUnmap::kSplit, false, Invalidation::kStrict});
  const uint64_t iova = uint64_t{0} - 2 * M2;
  ASSERT_EQ(t.map_pages({iova + K4, 0, K4, 1, RW}).ret, 0);
  ASSERT_EQ(t.map_pages({iova + M2, 0, K4, 1, RW}).ret, 0);
  EXPECT_EQ(t.expected_unmap_pages({iova, M2, 3}), 0u);
  EXPECT_TRUE(allowed(t, {iova, M2, 3}, 2 * M2));
}

TEST(UnmapPagesRules, RefuseStopsAtAPartlyCoveredLeafAndSplitDoesNot) {
  RefPgtable split = table(), refuse = table(PartialUnmap::kRefuse);
  for (RefPgtable* t : {&split, &refuse}) ASSERT_EQ(t->map_pages({0, 0, M2, 1, RW}).ret, 0);
  EXPECT_EQ(split.expected_unmap_pages({0, K4, 1}), K4);
  EXPECT_EQ(refuse.expected_unmap_pages({0, K4, 1}), 0u);
  EXPECT_TRUE(allowed(refuse, {0, K4, 1}, 0));
  EXPECT_FALSE(allowed(refuse, {0, K4, 1}, K4)) << "refuse declared, split done";
}

TEST(UnmapPagesRules, ApplyingAnOutcomeRemovesExactlyWhatItReported) {
  RefPgtable t = table(PartialUnmap::kWhole);
  ASSERT_EQ(t.map_pages({0, 0, M2, 1, RW}).ret, 0);
  ASSERT_EQ(t.map_pages({M2, M2, K4, 4, RW}).ret, 0);
  std::vector<LeafRun> removed;
  t.apply_unmap_pages({0, K4, 514}, M2 + K4, &removed);
  EXPECT_EQ(t.iova_to_phys(M2 - K4), std::nullopt);
  EXPECT_EQ(t.iova_to_phys(M2), std::nullopt);
  EXPECT_EQ(t.iova_to_phys(M2 + K4), M2 + K4);
  uint64_t bytes = 0;
  for (const LeafRun& r : removed) bytes += r.size();
  EXPECT_EQ(bytes, M2 + K4);
  // Starting inside a leaf, the whole leaf goes, and only it.
  t.apply_unmap_pages({M2 + 2 * K4, K4, 1}, K4);
  EXPECT_EQ(t.iova_to_phys(M2 + K4), M2 + K4);
  EXPECT_EQ(t.iova_to_phys(M2 + 2 * K4), std::nullopt);
}

}  // namespace
}  // namespace iommu::ref
