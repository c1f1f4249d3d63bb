// The op generator: contract campaigns make only calls a correct caller makes, and the stream
// reaches the hard cases the checker exists for.
#include "conform/generator.h"

#include <gtest/gtest.h>

#include "base/bits.h"
#include "conform/contract.h"
#include "conform/ref_side.h"
#include "ref/caller_contract.h"
#include "ref/pgsize.h"
#include "ref/selfcheck.h"

namespace iommu::conform {
namespace {

ref::DomainConfig lpae_4k(ref::Invalidation inv = ref::Invalidation::kStrict, bool np = false) {
  return {.pgsize_bitmap = 0x40201000, .ias = 48, .oas = 48,
          .partial_unmap = ref::PartialUnmap::kSplit, .np_caching = np, .invalidation = inv};
}

struct Coverage {
  uint64_t multi_page_runs = 0;   // a map whose first run has pgcount > 1
  uint64_t mixed_sizes = 0;       // a map that iommu_pgsize splits into several runs
  uint64_t table_crossings = 0;   // a map crossing a 2 MiB (level-3 table) boundary
  uint64_t top_of_ias = 0;        // a map in the highest window
  uint64_t merged_sg = 0, unmerged_sg = 0;
  uint64_t fast_unmaps = 0, syncs = 0, flushes = 0, accesses = 0;
  uint64_t max_pgsize_mapped = 0;
  uint64_t map_pages = 0, unmap_pages = 0, fail_allocs = 0;
  uint64_t cut_starts = 0;  // an unmap that starts inside a leaf
  uint64_t cut_ends = 0;    // an unmap that ends inside a leaf
  uint64_t whole_then_cut = 0;  // one that takes a whole leaf, then ends inside a later one
};

// Whether an unmap of [iova, iova + size) starts or ends inside a leaf.
void count_cuts(Coverage& c, const ref::RefDomain& d, uint64_t iova, uint64_t size) {
  const auto first = d.pgtable().leaves().leaf_at(iova);
  const auto last = d.pgtable().leaves().leaf_at(iova + (size - 1));
  const bool cut_end = last && last->last() != iova + (size - 1);
  c.cut_starts += first && first->iova != iova;
  c.cut_ends += cut_end;
  c.whole_then_cut += cut_end && first && first->iova == iova && first->last() < last->iova;
}

void count_map(Coverage& c, const ref::DomainConfig& cfg, uint64_t iova, uint64_t paddr,
               uint64_t size, uint64_t top_window) {
  const auto first = *iommu_pgsize(cfg.pgsize_bitmap, iova, paddr, size);
  if (first.count > 1) c.multi_page_runs++;
  if (first.count * first.pgsize < size) c.mixed_sizes++;
  if ((iova >> 21) != ((iova + size - 1) >> 21)) c.table_crossings++;
  if (iova >= top_window) c.top_of_ias++;
}

Coverage run(const ref::DomainConfig& cfg, CallerMode mode, uint64_t seed, int ops) {
  OpGenerator gen(cfg, {.mode = mode, .seed = seed});
  RefSide side(cfg);
  Coverage c;
  const uint64_t top_window = gen.windows()[1];
  for (int i = 0; i < ops; i++) {
    const Op op = gen.next(side.domain());
    if (mode == CallerMode::kContract) {
      auto v = contract_verdict(side.domain(), op);
      EXPECT_FALSE(v) << "op " << i << " " << op_name(op) << ": " << *v;
      if (v) return c;
    }
    if (auto* o = std::get_if<MapOp>(&op)) count_map(c, cfg, o->iova, o->paddr, o->size, top_window);
    if (auto* o = std::get_if<MapSgOp>(&op)) {
      for (size_t s = 1; s < o->segs.size(); s++) {
        (o->segs[s].paddr == o->segs[s - 1].paddr + o->segs[s - 1].length ? c.merged_sg
                                                                           : c.unmerged_sg)++;
      }
    }
    if (auto* o = std::get_if<UnmapOp>(&op)) count_cuts(c, side.domain(), o->iova, o->size);
    if (auto* o = std::get_if<UnmapFastOp>(&op)) count_cuts(c, side.domain(), o->iova, o->size);
    if (auto* o = std::get_if<UnmapPagesOp>(&op)) {
      count_cuts(c, side.domain(), o->iova, o->pgsize * o->pgcount);
    }
    c.map_pages += std::holds_alternative<MapPagesOp>(op);
    c.unmap_pages += std::holds_alternative<UnmapPagesOp>(op);
    c.fail_allocs += std::holds_alternative<FailAllocOp>(op);
    c.fast_unmaps += std::holds_alternative<UnmapFastOp>(op);
    c.syncs += std::holds_alternative<IotlbSyncOp>(op);
    c.flushes += std::holds_alternative<FlushIotlbAllOp>(op);
    c.accesses += std::holds_alternative<ReadOp>(op) || std::holds_alternative<WriteOp>(op);
    const int64_t ret = side.apply(op);
    if (mode == CallerMode::kContract && std::holds_alternative<MapOp>(op)) {
      EXPECT_EQ(ret, 0) << "a contract map failed at op " << i;
    }
    for (const auto& [iova, run] : side.domain().pgtable().leaves().runs()) {
      c.max_pgsize_mapped = std::max(c.max_pgsize_mapped, run.pgsize);
    }
  }
  return c;
}

TEST(OpGenerator, ContractCampaignsKeepTheContractAndReachTheHardCases) {
  for (auto inv : {ref::Invalidation::kStrict, ref::Invalidation::kLazy}) {
    const Coverage c = run(lpae_4k(inv), CallerMode::kContract, 12, 4000);
    EXPECT_GT(c.multi_page_runs, 100u);
    EXPECT_GT(c.mixed_sizes, 50u);
    EXPECT_GT(c.table_crossings, 50u);
    EXPECT_GT(c.top_of_ias, 50u);
    EXPECT_GT(c.merged_sg, 50u);
    EXPECT_GT(c.unmerged_sg, 50u);
    EXPECT_GT(c.fast_unmaps, 50u);
    EXPECT_GT(c.syncs, 20u);
    EXPECT_GT(c.flushes, 20u);
    EXPECT_GT(c.accesses, 100u);
    EXPECT_EQ(c.max_pgsize_mapped, 0x40000000u) << "1G leaves never mapped";
    EXPECT_GT(c.map_pages, 100u);
    EXPECT_GT(c.unmap_pages, 100u);
    EXPECT_GT(c.fail_allocs, 50u);
  }
}

// A SPLIT driver promises to split, so a correct caller may unmap any part of a leaf, also a
// whole leaf and then part of the next in one call; a WHOLE driver gets unmaps from a leaf's
// start to inside it, which it removes whole; a REFUSE driver gets neither.
TEST(OpGenerator, ContractCampaignsCutLeavesWhereThePolicyAllows) {
  ref::DomainConfig cfg = lpae_4k();
  const Coverage split = run(cfg, CallerMode::kContract, 7, 8000);
  EXPECT_GT(split.cut_starts, 50u);
  EXPECT_GT(split.cut_ends, 50u);
  EXPECT_GT(split.whole_then_cut, 10u);
  cfg.partial_unmap = ref::PartialUnmap::kWhole;
  const Coverage whole = run(cfg, CallerMode::kContract, 7, 4000);
  EXPECT_EQ(whole.cut_starts, 0u);
  EXPECT_GT(whole.cut_ends, 30u);
  cfg.partial_unmap = ref::PartialUnmap::kRefuse;
  const Coverage refuse = run(cfg, CallerMode::kContract, 7, 4000);
  EXPECT_EQ(refuse.cut_starts + refuse.cut_ends, 0u);
}

TEST(OpGenerator, EveryReferenceConfigurationStaysWithinTheContract) {
  for (const ref::DomainConfig& cfg : ref::selfcheck_configs()) {
    SCOPED_TRACE(ref::describe(cfg));
    run(cfg, CallerMode::kContract, 3, 1500);
  }
}

TEST(OpGenerator, WorksAtTheEdgesOfTheAddressSpace) {
  for (unsigned ias : {32u, 39u, 64u}) {
    ref::DomainConfig cfg = lpae_4k();
    cfg.ias = ias;
    cfg.oas = std::min(ias, 52u);
    SCOPED_TRACE(ias);
    run(cfg, CallerMode::kContract, 11, 1500);
  }
}

TEST(OpGenerator, HostileCampaignsMakeCallsThatFail) {
  OpGenerator gen(lpae_4k(), {.mode = CallerMode::kHostile, .seed = 5});
  RefSide side(lpae_4k());
  uint64_t failed_maps = 0, empty_unmaps = 0;
  for (int i = 0; i < 4000; i++) {
    const Op op = gen.next(side.domain());
    const int64_t ret = side.apply(op);
    failed_maps += std::holds_alternative<MapOp>(op) && ret < 0;
    empty_unmaps += std::holds_alternative<UnmapOp>(op) && ret == 0;
  }
  EXPECT_GT(failed_maps, 50u);
  EXPECT_GT(empty_unmaps, 50u);
}

TEST(OpGenerator, SameSeedSameStream) {
  auto stream = [](uint64_t seed) {
    OpGenerator gen(lpae_4k(), {.seed = seed});
    RefSide side(lpae_4k());
    std::vector<Op> ops;
    for (int i = 0; i < 500; i++) {
      ops.push_back(gen.next(side.domain()));
      side.apply(ops.back());
    }
    return ops;
  };
  EXPECT_EQ(stream(9), stream(9));
  EXPECT_NE(stream(9), stream(10));
}

}  // namespace
}  // namespace iommu::conform
