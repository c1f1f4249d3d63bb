// virtio and virtio-sync under the checker: clean campaigns of both behaviours in contract and
// hostile modes, each virtio mutant killed, each rule of the device probe seen failing on a
// broken driver, and findings that replay from their trace text.
#include <gtest/gtest.h>

#include "conform/campaign.h"
#include "conform/mutants.h"
#include "conform/registry.h"
#include "conform/trace.h"
#include "conform/virtio_driver.h"
#include "impl/mutant.h"

namespace iommu::conform {
namespace {

using impl::Mutant;
using impl::VirtioRequests;

const DriverSource& queued() {
  static const DriverSource src = virtio_driver_source(VirtioRequests::kQueued);
  return src;
}

std::optional<Violation> replay(const DriverSource& src, const std::string& text,
                                Mutant bug = Mutant::kNone) {
  return replay_ops(src, parse_trace(text).ops, {.bug = bug});
}

TEST(VirtioChecker, ResolvesBothBehaviours) {
  EXPECT_EQ(resolve_driver("virtio").info.name, "virtio");
  EXPECT_TRUE(resolve_driver("virtio").info.config.np_caching);
  EXPECT_EQ(resolve_driver("virtio-sync").info.name, "virtio-sync");
  EXPECT_FALSE(resolve_driver("virtio-sync").info.config.np_caching);
  EXPECT_THROW(resolve_driver("virtio-bogus"), DriverError);
}

TEST(VirtioChecker, CampaignsAreClean) {
  for (VirtioRequests requests : {VirtioRequests::kQueued, VirtioRequests::kSynchronous}) {
    for (CallerMode mode : {CallerMode::kContract, CallerMode::kHostile}) {
      for (ref::Invalidation inv : {ref::Invalidation::kStrict, ref::Invalidation::kLazy}) {
        DriverSource src = virtio_driver_source(requests);
        src.info.config.invalidation = inv;
        const CampaignReport r =
            run_campaign(src, {.seed = 7, .ops = 3000, .mode = mode, .episode_ops = 1500});
        EXPECT_FALSE(r.finding) << src.info.name << ": " << r.finding->minimized.message();
        EXPECT_EQ(r.ops, 3000u);
      }
    }
  }
}

TEST(VirtioChecker, EveryVirtioMutantIsKilled) {
  size_t seen = 0;
  for (const MutantSpec& spec : mutant_specs()) {
    if (spec.format != "virtio") continue;
    seen++;
    const MutantResult r = run_mutant(spec, 30, 1);
    EXPECT_TRUE(r.killed) << spec.name;
  }
  EXPECT_EQ(seen, 3u);
}

// A synced mapping the device does not translate: "must succeed".
TEST(VirtioCheckerRules, AFaultOnASyncedMapping) {
  const auto v = replay(queued(), "map iova=0x10000 paddr=0x80000 size=4K prot=rw\n",
                        Mutant::kVirtioNoSyncMap);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "translation");
  EXPECT_NE(v->detail.find("must succeed"), std::string::npos) << v->detail;
}

// Before its sync the same mapping may fault: no finding until the sync.
TEST(VirtioCheckerRules, AQueuedMapMayFaultBeforeItsSync) {
  const auto v = replay(queued(),
                        "map_nosync iova=0x10000 paddr=0x80000 size=4K prot=rw\n"
                        "read iova=0x10000\n"
                        "iotlb_sync_map iova=0x10000 size=4K\n",
                        Mutant::kVirtioNoSyncMap);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->op_index, 2u) << v->message();
}

// The device reaching a range a strict unmap removed: the unmap's sync settled the range.
TEST(VirtioCheckerRules, ATranslationAfterAStrictUnmap) {
  const auto v = replay(queued(),
                        "map iova=0x10000 paddr=0x80000 size=4K prot=rw\n"
                        "unmap iova=0x10000 size=4K\n",
                        Mutant::kVirtioUnmapUnsynced);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->op_index, 1u);
  EXPECT_EQ(v->check, "stale");
  EXPECT_NE(v->detail.find("ref allows a fault"), std::string::npos) << v->detail;
}

// unmap_fast leaves the range visible until iotlb_sync; after it the device must not translate.
TEST(VirtioCheckerRules, ATranslationAfterTheSyncOfItsGather) {
  const std::string trace =
      "map iova=0x10000 paddr=0x80000 size=4K prot=rw\n"
      "unmap_fast iova=0x10000 size=4K gather=1\n"
      "read iova=0x10000\n"
      "iotlb_sync gather=1\n";
  EXPECT_FALSE(replay(queued(), trace));
  const auto v = replay(queued(), trace, Mutant::kVirtioUnmapUnsynced);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->op_index, 3u);
  EXPECT_EQ(v->check, "stale");
}

// A synchronous driver must show a mapping when map_nosync returns.
TEST(VirtioCheckerRules, SynchronousRequestsMustBeVisibleAtOnce) {
  const std::string trace =
      "map_nosync iova=0x10000 paddr=0x80000 size=4K prot=rw\n"
      "read iova=0x10000\n";
  EXPECT_FALSE(replay(virtio_driver_source(VirtioRequests::kSynchronous), trace));
  // A queued driver cannot be held to the synchronous declaration: the core refuses the pair.
  DriverSource lying = queued();
  lying.info.config.np_caching = false;
  EXPECT_THROW(replay(lying, trace), std::invalid_argument);
}

TEST(VirtioCheckerRules, AFindingReplaysFromItsTraceText) {
  const CheckOptions buggy{.bug = Mutant::kVirtioQueueFullDrops};
  const CampaignReport r =
      run_campaign(queued(), {.seed = 3, .ops = 20000, .check = buggy, .minimize_tests = 300});
  ASSERT_TRUE(r.finding);
  Trace t;
  t.driver = "virtio";
  t.config = queued().info.config;
  t.ops = r.finding->ops;
  const Trace back = parse_trace(format_trace(t));
  const auto v = replay_ops(configured_source(back, *back.driver), back.ops, buggy);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, r.finding->minimized.check);
}

}  // namespace
}  // namespace iommu::conform
