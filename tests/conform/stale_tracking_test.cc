// The checker's tracking of which invalidations are still pending: every way a range becomes
// settled (strict unmap, unmap_pages with and without a gather, unmap_fast into named gathers
// and the iotlb_sync of each, the lazy flush queue, iotlb_sync_map) is exercised with a driver
// that loses the invalidation of exactly one range, and the stale check must fire at exactly
// the op that completes that range's invalidation, never earlier and never later.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "conform/checker.h"
#include "conform/impl_driver.h"

namespace iommu::conform {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;
// The broken driver loses the invalidation of leaves it removes from [kLostLo, kLostHi).
constexpr uint64_t kLostLo = 0x400000, kLostHi = 0x600000;
constexpr uint64_t kLost = kLostLo, kKept = 0x800000;  // one iova inside, one outside

// Puts the tlb_add_page calls of an unmap inside the lost window into a gather nobody syncs.
// Every removed leaf is still reported to tlb_add_page, so the driver-call check is satisfied:
// only the IOTLB still holding the leaf after the invalidation completed shows the bug.
class LosesInvalidation : public Driver {
 public:
  explicit LosesInvalidation(std::unique_ptr<Driver> inner) : inner_(std::move(inner)) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    impl::IotlbGather dropped;
    dropped.queued = gather->queued;
    const bool lose = iova >= kLostLo && iova < kLostHi;
    return inner_->unmap_pages(iova, pgsize, pgcount, lose ? &dropped : gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return inner_->iova_to_phys(iova); }

 private:
  std::unique_ptr<Driver> inner_;
};

DriverSource source(bool broken, ref::Invalidation inv = ref::Invalidation::kStrict,
                    bool np_caching = false) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.info.config.invalidation = inv;
  src.info.config.np_caching = np_caching;
  if (broken) {
    auto inner = src.create;
    src.create = [inner](DriverEnv& env) -> std::unique_ptr<Driver> {
      return std::make_unique<LosesInvalidation>(inner(env));
    };
  }
  return src;
}

// Runs ops in order; returns the index of the first violating op (ops.size() if none) and
// expects that violation, if any, to be of `check`.
size_t first_violation(const DriverSource& src, const std::vector<Op>& ops,
                       const std::string& check = "stale") {
  Checker c(src);
  for (size_t i = 0; i < ops.size(); i++) {
    const StepResult r = c.step(ops[i]);
    if (r.violation) {
      EXPECT_EQ(r.violation->check, check) << r.violation->message();
      return i;
    }
  }
  EXPECT_FALSE(c.teardown());
  return ops.size();
}

// Maps both iovas and lets the device cache them, so a lost invalidation leaves an entry. A
// page kept mapped in each leaf table keeps the driver from freeing the table, whose walk
// flush would invalidate the lost leaves after all.
std::vector<Op> mapped_and_cached() {
  return {MapOp{kLost, 0x10000000, 2 * K4, RW},          MapOp{kKept, 0x20000000, 2 * K4, RW},
          MapOp{kLost + 0x100000, 0x30000000, K4, RW}, MapOp{kKept + 0x100000, 0x40000000, K4, RW},
          ReadOp{kLost},  ReadOp{kLost + K4},  ReadOp{kKept},  ReadOp{kKept + K4}};
}
const size_t kSetup = mapped_and_cached().size();

std::vector<Op> with(std::vector<Op> ops, std::initializer_list<Op> more) {
  ops.insert(ops.end(), more);
  return ops;
}

TEST(StaleTracking, TheSetupIsCleanForACorrectAndABrokenDriver) {
  EXPECT_EQ(first_violation(source(false), mapped_and_cached()), kSetup);
  EXPECT_EQ(first_violation(source(true), mapped_and_cached()), kSetup);
}

TEST(StaleTracking, AStrictUnmapIsJudgedWhenItReturns) {
  const auto ops = with(mapped_and_cached(), {UnmapOp{kKept, 2 * K4}, UnmapOp{kLost, 2 * K4}});
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 1);
}

TEST(StaleTracking, UnmapPagesWithoutAGatherIsJudgedWhenItReturns) {
  const auto ops = with(mapped_and_cached(), {UnmapPagesOp{kKept, K4, 2, std::nullopt},
                                              UnmapPagesOp{kLost, K4, 2, std::nullopt}});
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 1);
}

TEST(StaleTracking, UnmapPagesIntoAGatherIsJudgedAtThatGathersSync) {
  // The device may still use the old translation until the sync: reading it is allowed.
  const auto ops = with(mapped_and_cached(), {UnmapPagesOp{kLost, K4, 2, 3}, ReadOp{kLost},
                                              ReadOp{kLost + K4}, IotlbSyncOp{3}});
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 3);
}

TEST(StaleTracking, UnmapFastIsJudgedAtItsGathersSync) {
  const auto ops = with(mapped_and_cached(),
                        {UnmapFastOp{kLost, 2 * K4, 1}, ReadOp{kLost}, IotlbSyncOp{1}});
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 2);
}

TEST(StaleTracking, EachGatherIsJudgedAtItsOwnSyncNotAnothers) {
  // The lost range goes into the gather synced first, then into the one synced last.
  const auto lost_first = with(mapped_and_cached(), {UnmapFastOp{kLost, 2 * K4, 1},
                                                     UnmapFastOp{kKept, 2 * K4, 2},
                                                     IotlbSyncOp{2}, IotlbSyncOp{1}});
  EXPECT_EQ(first_violation(source(false), lost_first), lost_first.size());
  EXPECT_EQ(first_violation(source(true), lost_first), kSetup + 3);
  const auto lost_last = with(mapped_and_cached(), {UnmapFastOp{kLost, 2 * K4, 1},
                                                    UnmapFastOp{kKept, 2 * K4, 2},
                                                    IotlbSyncOp{1}, ReadOp{kKept},
                                                    IotlbSyncOp{2}});
  EXPECT_EQ(first_violation(source(true), lost_last), kSetup + 2);
}

TEST(StaleTracking, ASyncOfAnEmptyOrUnknownGatherSettlesNothing) {
  // A sync of another gather before the lost one's: nothing is judged too early.
  const auto ops = with(mapped_and_cached(), {UnmapFastOp{kLost, 2 * K4, 5}, IotlbSyncOp{4},
                                              IotlbSyncOp{0}, ReadOp{kLost}, IotlbSyncOp{5}});
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 4);
}

TEST(StaleTracking, ALaterUnmapIntoTheSameGatherKeepsTheEarlierOnePending) {
  const auto ops = with(mapped_and_cached(), {UnmapFastOp{kLost, 2 * K4, 1},
                                              UnmapFastOp{kKept, 2 * K4, 1}, IotlbSyncOp{1}});
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), kSetup + 2);
}

TEST(StaleTracking, ALazyUnmapStaysVisibleUntilFlushIotlbAll) {
  // Lazy: the core gathers nothing and the flush queue's flush_iotlb_all invalidates all.
  const auto ops = with(mapped_and_cached(), {UnmapOp{kLost, 2 * K4}, ReadOp{kLost},
                                              WriteOp{kLost + K4}, FlushIotlbAllOp{},
                                              ReadOp{kLost}, ReadOp{kKept}});
  EXPECT_EQ(first_violation(source(false, ref::Invalidation::kLazy), ops), ops.size());
  EXPECT_EQ(first_violation(source(true, ref::Invalidation::kLazy), ops), ops.size());
}

TEST(StaleTracking, GathersInALazyDomainAreStillJudgedAtTheirSync) {
  const auto ops = with(mapped_and_cached(), {UnmapOp{kKept, 2 * K4}, UnmapFastOp{kLost, 2 * K4, 1},
                                              ReadOp{kKept}, IotlbSyncOp{1}});
  EXPECT_EQ(first_violation(source(true, ref::Invalidation::kLazy), ops), kSetup + 3);
}

TEST(StaleTracking, FlushIotlbAllCompletesEveryGather) {
  // After the flush nothing is stale: the lost gather's later sync must not be judged against
  // what the flush already removed, and reads fault cleanly.
  const auto ops = with(mapped_and_cached(), {UnmapFastOp{kLost, 2 * K4, 1}, FlushIotlbAllOp{},
                                              ReadOp{kLost}, IotlbSyncOp{1}, ReadOp{kLost + K4}});
  EXPECT_EQ(first_violation(source(true), ops), ops.size());
}

TEST(StaleTracking, IotlbSyncMapPublishesOnlyThePagesItTouches) {
  // Non-present caching: a fault cached before iotlb_sync_map is allowed on the pages it has
  // not touched yet, and must be gone from the pages it has.
  const std::vector<Op> ops = {MapNosyncOp{kKept, 0x20000000, 2 * K4, RW}, ReadOp{kKept},
                               ReadOp{kKept + K4}, IotlbSyncMapOp{kKept, K4}, ReadOp{kKept},
                               ReadOp{kKept + K4}, IotlbSyncMapOp{kKept + K4 + 8, 8},
                               ReadOp{kKept + K4}};
  EXPECT_EQ(first_violation(source(false, ref::Invalidation::kStrict, true), ops), ops.size());
  // A driver-level map_pages is as unpublished as map_nosync until its iotlb_sync_map.
  const std::vector<Op> pages = {ReadOp{kKept}, MapPagesOp{kKept, 0x20000000, K4, 2, RW},
                                 ReadOp{kKept}, IotlbSyncMapOp{kKept, 2 * K4}, ReadOp{kKept}};
  EXPECT_EQ(first_violation(source(false, ref::Invalidation::kStrict, true), pages),
            pages.size());
}

TEST(StaleTracking, ABlockLeftCachedIsJudgedWhereTheReferenceNoLongerMapsIt) {
  // The cached 2M block outlives its lost invalidation, and by the sync its last page is
  // mapped again, to the same paddr: the entry is wrong at the block's start only, and the
  // stale check must judge it there, not only at its end.
  const std::vector<Op> ops = {MapOp{kLostLo, 0x40000000, M2, RW}, ReadOp{kLostLo + K4},
                               UnmapFastOp{kLostLo, M2, 1},
                               MapOp{kLostLo + M2 - K4, 0x40000000 + M2 - K4, K4, RW},
                               IotlbSyncOp{1}, ReadOp{kLostLo}};
  EXPECT_EQ(first_violation(source(false), ops), ops.size());
  EXPECT_EQ(first_violation(source(true), ops), 4u);
}

TEST(StaleTracking, AFailedMapIsUnrolledAndNothingOfItStays) {
  // The map stops with -EEXIST at kKept + 2 pages: the core unrolls the pages it mapped, and
  // the reference, the walk and the caches must all agree that nothing of it stays.
  const std::vector<Op> ops = {MapOp{kKept + 2 * K4, 0x30000000, K4, RW}, ReadOp{kKept},
                               MapOp{kKept, 0x20000000, 4 * K4, RW}, ReadOp{kKept},
                               ReadOp{kKept + K4}, WriteOp{kKept + 2 * K4}};
  Checker c(source(false));
  for (const Op& op : ops) {
    const StepResult r = c.step(op);
    ASSERT_FALSE(r.violation) << r.violation->message();
  }
  EXPECT_EQ(c.reference().iova_to_phys(kKept), 0u);
  EXPECT_EQ(c.reference().iova_to_phys(kKept + 2 * K4), 0x30000000u);
}

}  // namespace
}  // namespace iommu::conform
