// The page-table engine case by case: construction for every format, errors, runs across
// tables, the three partial-unmap policies, blocks over empty tables, v7s replicas, gathers.
#include <gtest/gtest.h>

#include <cerrno>

#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

constexpr uint64_t K4 = 0x1000, K64 = 0x10000, M1 = 0x100000, M2 = 0x200000, M16 = 0x1000000,
                   G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

using Pages = std::vector<std::pair<uint64_t, uint64_t>>;
Pages pages(RecordingFlush& f) {
  Pages out;
  for (auto p : f.take_pages()) out.emplace_back(p.iova, p.size);
  return out;
}

TEST(Pgtable, ConstructsEveryFormatAndFreesEverythingAtTeardown) {
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(c.label);
    hw::TableMemory mem(c.window);
    CountingFlush flush;
    {
      Pgtable pt({c.format}, mem, flush);
      EXPECT_EQ(pt.roots().size(), pt.format().geo().n_ttbrs);
      EXPECT_EQ(mem.live_allocations().size(), pt.roots().size());
      const ref::DomainConfig d = pt.domain_config();
      EXPECT_EQ(d.pgsize_bitmap, pt.format().geo().pgsize_bitmap);
      const uint64_t min = d.min_pgsize();
      ASSERT_EQ(pt.map_pages(0, 0, min, 3, RW, nullptr), 0);
      EXPECT_EQ(pt.iova_to_phys(min + 5), min + 5);
    }
    EXPECT_TRUE(mem.live_allocations().empty());
  }
}

TEST(Pgtable, ConstructorThrowsWithoutRootMemoryAndLeaksNothing) {
  hw::TableMemory mem;
  CountingFlush flush;
  mem.fail_nth_allocation(3);
  EXPECT_THROW(Pgtable({{"apple-dart", 32, 36, 4096}}, mem, flush), std::runtime_error);
  EXPECT_TRUE(mem.live_allocations().empty());
  EXPECT_THROW(Pgtable({{"no-such-format"}}, mem, flush), std::invalid_argument);
}

TEST(Pgtable, ArgumentErrorsAsTheReference) {
  Rig r({"arm-64-lpae-s1-4k", 48, 40});
  EXPECT_EQ(r.map(0, 0, 0x3000, 1), -EINVAL);
  EXPECT_EQ(r.map(0, 0, K64, 1), -EINVAL);
  EXPECT_EQ(r.map(0, 0, K4, 0), -EINVAL);
  EXPECT_EQ(r.map(K4, 0, M2, 1), -EINVAL);
  EXPECT_EQ(r.map(uint64_t{1} << 48, 0, K4, 1), -ERANGE);
  EXPECT_EQ(r.map(0, uint64_t{1} << 40, K4, 1), -ERANGE);
  EXPECT_EQ(r.map(0, 0, K4, 1, IOMMU_NOEXEC), -EINVAL);
  EXPECT_EQ(r.map((uint64_t{1} << 48) - 2 * K4, 0, K4, 4), -ERANGE);
  EXPECT_EQ(r.last_mapped, 2 * K4) << "maps what fits below the ias";
  EXPECT_EQ(r.unmap(0, 0x3000, 1), 0u);
  EXPECT_EQ(r.unmap(K4, M2, 1), 0u);
  r.check();
}

TEST(Pgtable, EexistAfterWhatFitsAndNoOverwrite) {
  Rig r({"arm-64-lpae-s1-4k"});
  ASSERT_EQ(r.map(5 * K4, 0x9000, K4, 1, IOMMU_READ), 0);
  EXPECT_EQ(r.map(0, 0x100000, K4, 8), -EEXIST);
  EXPECT_EQ(r.last_mapped, 5 * K4);
  EXPECT_EQ(r.map(0, 0, M2, 1), -EEXIST) << "a block over a table with live leaves";
  EXPECT_EQ(r.pt.iova_to_phys(5 * K4), 0x9000u) << "permissions never change in place";
  ASSERT_EQ(r.map(G1, 0, G1, 1), 0);
  EXPECT_EQ(r.map(G1 + M2, 0, K4, 1), -EEXIST) << "a page under a block";
  r.check();
}

TEST(Pgtable, OneCallMapsARunAcrossLeafAndMidLevelTables) {
  Rig r({"arm-64-lpae-s1-4k"});
  const uint64_t iova = G1 - 4 * K4;  // crosses a 2M and a 1G boundary
  EXPECT_EQ(r.map(iova, 0x40000000, K4, 1100), 0);
  EXPECT_EQ(r.last_mapped, 1100 * K4);
  r.check();
  EXPECT_EQ(r.unmap(iova, K4, 1100), 1100 * K4);
  EXPECT_EQ(pages(r.flush).size(), 1100u);
  EXPECT_EQ(tables_in_use(r.pt, r.mem).size(), 1u) << "every emptied table was freed or kept";
  EXPECT_EQ(r.mem.live_allocations().size(), 4u) << "the last emptied table and its parents";
  r.check();
}

TEST(Pgtable, UnmapStopsAtTheTopOfTheIas) {
  Rig r({"arm-64-lpae-s1-4k"});
  const uint64_t top = uint64_t{1} << 48;
  ASSERT_EQ(r.map(0, 0, K4, 1), 0);
  ASSERT_EQ(r.map(top - K4, 0, K4, 1), 0);
  EXPECT_EQ(r.unmap(top - K4, K4, 2), K4) << "the iova after the ias is not iova 0";
  EXPECT_EQ(r.pt.iova_to_phys(0x10), 0x10u);
  r.check();
}

TEST(Pgtable, UnmapStopsAtAHoleAndTakesSmallLeavesInsideALargerRequest) {
  Rig r({"arm-64-lpae-s1-4k"});
  ASSERT_EQ(r.map(0, 0, K4, 100), 0);
  EXPECT_EQ(r.unmap(0, M2, 1), 100 * K4);
  EXPECT_EQ(r.unmap(0, K4, 1), 0u);
  r.check();
}

// The cut block is flushed at once, whole: Linux 6.12 reports only the removed pages, which
// leaves a cached 1G block alive behind an SMMUv3 TTL hint or a VT-d PSI.
TEST(Pgtable, SplitRemovesExactlyTheRequestAndFlushesTheCutLeaf) {
  Rig r({"arm-64-lpae-s1-4k"});
  ASSERT_EQ(r.map(G1, 0x80000000, G1, 1), 0);
  r.flush.arm(r.pt, r.mem);
  r.flush.take_walks();
  EXPECT_EQ(r.unmap(G1 + 3 * M2 + 5 * K4, K4, 2), 2 * K4);
  EXPECT_EQ(pages(r.flush), Pages{});
  const auto walks = r.flush.take_walks();
  ASSERT_EQ(walks.size(), 1u);
  EXPECT_EQ(walks[0].iova, G1);
  EXPECT_EQ(walks[0].size, G1);
  r.check();  // 2M blocks around a 4K table: the largest leaves that fit
  EXPECT_EQ(r.unmap(G1, M2, 1), M2);
  r.check();
}

TEST(Pgtable, WholeTakesTheLeafAndStops) {
  Rig r({"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kWhole);
  ASSERT_EQ(r.map(0, 0, M2, 2), 0);
  EXPECT_EQ(r.unmap(M2 - K4 * 0, K4, 1), M2);
  EXPECT_EQ(pages(r.flush), (Pages{{M2, M2}}));
  ASSERT_EQ(r.map(M2, 0x400000, M2, 1), 0);
  EXPECT_EQ(r.unmap(K4, K4, 1024), M2) << "does not continue into the next leaf";
  r.check();
}

TEST(Pgtable, RefuseChangesNothing) {
  Rig r({"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kRefuse);
  ASSERT_EQ(r.map(0, 0, M2, 1), 0);
  EXPECT_EQ(r.unmap(K4, K4, 1), 0u);
  EXPECT_TRUE(pages(r.flush).empty());
  r.check();
}

TEST(Pgtable, BlockReplacesAnEmptyTableAfterAWalkFlush) {
  Rig r({"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kSplit, /*free_empty=*/false);
  ASSERT_EQ(r.map(0, 0, K4, 1), 0);
  ASSERT_EQ(r.unmap(0, K4, 1), K4);
  EXPECT_EQ(r.mem.live_allocations().size(), 4u) << "empty tables stay";
  r.flush.arm(r.pt, r.mem);
  ASSERT_EQ(r.map(0, 0, M2, 1), 0);
  EXPECT_EQ(r.mem.live_allocations().size(), 3u);
  for (const auto& [paddr, at] : r.flush.before()) {
    if (!reachable_tables(r.pt, r.mem).contains(paddr)) {
      EXPECT_TRUE(r.flush.flushed_ok().contains(paddr)) << "freed without a walk flush";
    }
  }
  r.check();
}

TEST(Pgtable, QueuedGatherGetsNoPages) {
  Rig r({"arm-64-lpae-s1-4k"});
  ASSERT_EQ(r.map(0, 0, K4, 4), 0);
  EXPECT_EQ(r.unmap(0, K4, 4, /*queued=*/true), 4 * K4);
  EXPECT_TRUE(pages(r.flush).empty());
  EXPECT_EQ(r.pt.unmap_pages(0, K4, 1, nullptr), 0u);
}

TEST(Pgtable, V7sLargePagesAreSixteenEntriesAndOneGatherPage) {
  Rig r({"arm-v7s"});
  ASSERT_EQ(r.map(M1, 0x20000000, K64, 3), 0);
  ASSERT_EQ(r.map(M16, 0x30000000, M16, 1), 0);
  r.check();
  EXPECT_EQ(r.unmap(M1 + K64, K64, 1), K64);
  EXPECT_EQ(pages(r.flush), (Pages{{M1 + K64, K64}}));
  EXPECT_EQ(r.unmap(M16 + 3 * M1 + 7 * K4, K4, 1), K4) << "16M -> 1M sections -> 64K -> 4K";
  r.check();
  EXPECT_EQ(r.unmap(M1, K4, 1), K4) << "a 64K page split in place";
  r.check();
}

TEST(Pgtable, DartPicksTheRootByTtbr) {
  Rig r({"apple-dart", 32, 36, 4096});
  ASSERT_EQ(r.pt.roots().size(), 4u);
  ASSERT_EQ(r.map(0xc0000000 - 2 * K4, 0x1000000, K4, 4), 0) << "crosses TTBR 2 into 3";
  r.check();
  EXPECT_EQ(r.unmap(0xc0000000 - 2 * K4, K4, 4), 4 * K4);
  EXPECT_EQ(tables_in_use(r.pt, r.mem).size(), 4u) << "roots stay";
}

TEST(Pgtable, ConcatenatedStage2PgdAnd52BitTables) {
  Rig s2({"arm-64-lpae-s2-4k", 40, 40});
  ASSERT_EQ(s2.pt.format().geo().pgd_concat, 2u);
  ASSERT_EQ(s2.map((uint64_t{1} << 39) - K4, 0, K4, 2), 0) << "crosses into the second PGD table";
  s2.check();
  Rig big({"arm-64-lpae-s1-64k", 52, 52}, ref::PartialUnmap::kSplit, true,
          {.base = 0x000f000000000000, .limit = uint64_t{1} << 52});
  ASSERT_EQ(big.map(uint64_t{1} << 42, uint64_t{1} << 50, uint64_t{1} << 42, 1), 0);
  EXPECT_EQ(big.unmap((uint64_t{1} << 42) + K64, K64, 1), K64);
  big.check();
}

TEST(Pgtable, RunsAcrossARepackedOutputAddressUseTheCodec) {
  // 52-bit LPAE keeps PA[51:48] in PTE[15:12]: a run of pages crossing paddr 2^48 is not a
  // linear sequence of descriptors.
  Rig r({"arm-64-lpae-s1-64k", 52, 52});
  EXPECT_EQ(r.map(0, (uint64_t{1} << 48) - 2 * K64, K64, 4), 0);
  EXPECT_EQ(r.pt.iova_to_phys(3 * K64), (uint64_t{1} << 48) + K64);
  r.check();
}

TEST(Pgtable, SplitPiecesKeepBitsTheProtDoesNotShow) {
  // MMIO|CACHE: device memory type, yet inner-shareable; decoding shows MMIO only.
  Rig r({"arm-64-lpae-s1-4k"});
  ASSERT_EQ(r.map(0, 0, M2, 1, IOMMU_READ | IOMMU_MMIO | IOMMU_CACHE), 0);
  EXPECT_EQ(r.unmap(K4, K4, 1), K4);
  r.check();
}

}  // namespace
}  // namespace iommu::impl::testing
