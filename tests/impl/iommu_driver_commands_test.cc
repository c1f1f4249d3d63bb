// The commands each driver style sends, as the hardware decodes them: what flush_all, walk
// flushes, gathers and iotlb_sync_map turn into, that a sync always ends the call, and that
// whatever was gathered is covered once iotlb_sync returns (for any page sequence).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <thread>

#include "impl/gather.h"
#include "impl/iommu_driver.h"
#include "iommu_driver_recorder.h"

namespace iommu::impl {
namespace {

using testing::RecordingSink;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr hw::ContextId kCtx = 7;

struct StyleCase {
  const char* name;
  IommuDriverConfig cfg;
};

std::vector<StyleCase> all_styles(bool np_caching = false) {
  std::vector<StyleCase> out;
  if (!np_caching) {
    out.push_back({"smmu-s1", {.style = IommuStyle::kSmmuV3, .ctx = kCtx}});
    out.push_back({"smmu-s2", {.style = IommuStyle::kSmmuV3, .ctx = kCtx, .smmu_stage = 2}});
    out.push_back({"smmu-norange",
                   {.style = IommuStyle::kSmmuV3, .ctx = kCtx, .smmu_range_inv = false}});
  }
  out.push_back({"vtd", {.style = IommuStyle::kVtd, .ctx = kCtx, .np_caching = np_caching}});
  out.push_back({"amd", {.style = IommuStyle::kAmd, .ctx = kCtx, .np_caching = np_caching}});
  if (!np_caching) {
    out.push_back({"riscv", {.style = IommuStyle::kRiscv, .ctx = kCtx}});
    out.push_back({"riscv-nl-s",
                   {.style = IommuStyle::kRiscv, .ctx = kCtx, .riscv_nl = true, .riscv_s = true}});
  }
  return out;
}

// Every command but the last is a range or context command of kCtx; the last is the sync.
void expect_ends_with_one_sync(const std::vector<hw::Command>& log, const char* style) {
  ASSERT_GE(log.size(), 2u) << style;
  EXPECT_EQ(log.back().kind, hw::CommandKind::kSync) << style;
  for (size_t i = 0; i + 1 < log.size(); ++i) {
    EXPECT_NE(log[i].kind, hw::CommandKind::kSync) << style;
    EXPECT_EQ(log[i].ctx, kCtx) << style;
  }
}

bool any_hits_leaf(const std::vector<hw::Command>& log, uint64_t base, uint64_t size) {
  for (const hw::Command& c : log)
    if (c.hits_leaf(kCtx, base, size)) return true;
  return false;
}

bool any_hits_table(const std::vector<hw::Command>& log, uint64_t base, uint64_t span) {
  for (const hw::Command& c : log)
    if (c.hits_table(kCtx, base, span)) return true;
  return false;
}

TEST(IommuDriverCommands, FlushAllInvalidatesTheWholeContextThenSyncs) {
  for (const auto& [name, cfg] : all_styles()) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    drv.tlb_flush_all();
    expect_ends_with_one_sync(sink.log(), name);
    EXPECT_TRUE(any_hits_leaf(sink.log(), 0, k4K)) << name;
    EXPECT_TRUE(any_hits_leaf(sink.log(), uint64_t{1} << 47, uint64_t{1} << 30)) << name;
    EXPECT_TRUE(any_hits_table(sink.log(), 0x40000000, uint64_t{1} << 30)) << name;
    EXPECT_FALSE(sink.log()[0].hits_leaf(kCtx + 1, 0, k4K)) << name << ": other contexts stay";
    EXPECT_EQ(drv.stats().flush_alls, 1u) << name;
    EXPECT_EQ(drv.stats().commands, sink.log().size()) << name;
  }
}

TEST(IommuDriverCommands, WalkFlushDropsWalkCachesOverTheRange) {
  for (const auto& [name, cfg] : all_styles()) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    drv.tlb_flush_walk(0x40200000, k2M, k4K);
    expect_ends_with_one_sync(sink.log(), name);
    for (const hw::Command& c : sink.log()) EXPECT_FALSE(c.leaf_only) << name;
    // The level-2 descriptor spanning the freed level-3 table, and the pages under it.
    EXPECT_TRUE(any_hits_table(sink.log(), 0x40200000, k2M)) << name;
    EXPECT_TRUE(any_hits_leaf(sink.log(), 0x40200000, k4K)) << name;
    EXPECT_TRUE(any_hits_leaf(sink.log(), 0x403ff000, k4K)) << name;
    EXPECT_EQ(drv.stats().flush_walks, 1u) << name;
  }
}

TEST(IommuDriverCommands, IotlbSyncIssuesOneLeafOnlyRangeWithTheGathersPageSize) {
  for (const auto& [name, cfg] : all_styles()) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    IotlbGather g;
    for (uint64_t iova = 0x10000; iova < 0x14000; iova += k4K) drv.tlb_add_page(g, iova, k4K);
    EXPECT_TRUE(sink.log().empty()) << name << ": contiguous pages wait for iotlb_sync";
    drv.iotlb_sync(g);
    expect_ends_with_one_sync(sink.log(), name);
    for (size_t i = 0; i + 1 < sink.log().size(); ++i) {
      EXPECT_TRUE(sink.log()[i].leaf_only) << name;
      if (cfg.style == IommuStyle::kSmmuV3 && cfg.smmu_range_inv) {
        EXPECT_EQ(sink.log()[i].leaf_size, k4K) << name << ": TTL from the gather's pgsize";
      }
    }
    for (uint64_t iova = 0x10000; iova < 0x14000; iova += k4K)
      EXPECT_TRUE(any_hits_leaf(sink.log(), iova, k4K)) << name;
    EXPECT_TRUE(g.empty()) << name << ": iommu_iotlb_sync reinitializes the gather";
    EXPECT_EQ(g.start, ~uint64_t{0}) << name;
    EXPECT_EQ(drv.stats().iotlb_syncs, 1u) << name;
  }
}

TEST(IommuDriverCommands, SmmuRangeFormIsOneCommandForAnAlignedRun) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kSmmuV3, .ctx = kCtx});
  IotlbGather g;
  for (uint64_t iova = 0; iova < 32 * k4K; iova += k4K) drv.tlb_add_page(g, iova, k4K);
  drv.iotlb_sync(g);
  ASSERT_EQ(sink.log().size(), 2u);
  EXPECT_EQ(sink.log()[0].range, (hw::IovaRange{0, 32 * k4K - 1}));
}

TEST(IommuDriverCommands, SmmuWithoutRangeInvalidationSendsOnePerPage) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kSmmuV3, .ctx = kCtx, .smmu_range_inv = false});
  IotlbGather g;
  for (uint64_t iova = 0; iova < 5 * k4K; iova += k4K) drv.tlb_add_page(g, iova, k4K);
  drv.iotlb_sync(g);
  EXPECT_EQ(sink.log().size(), 6u);
  EXPECT_EQ(drv.stats().range_commands, 5u);
  EXPECT_EQ(drv.stats().syncs, 1u);
}

TEST(IommuDriverCommands, LeafOnlyFlagsPerStyle) {
  // SMMUv3 Leaf=1, VT-d IH=1, AMD PDE=0 keep walk caches: a table descriptor survives.
  for (const auto& [name, cfg] : all_styles()) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    IotlbGather g;
    drv.tlb_add_page(g, k2M, k4K);
    drv.iotlb_sync(g);
    EXPECT_FALSE(any_hits_table(sink.log(), k2M, k2M)) << name;
  }
}

TEST(IommuDriverCommands, EmptyGatherSendsNothing) {
  for (const auto& [name, cfg] : all_styles()) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    IotlbGather g;
    drv.iotlb_sync(g);
    EXPECT_TRUE(sink.log().empty()) << name;
    EXPECT_EQ(drv.stats().commands, 0u) << name;
  }
}

TEST(IommuDriverCommands, DisjointPagesAreIssuedEarlyByTheGather) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kSmmuV3, .ctx = kCtx});
  IotlbGather g;
  drv.tlb_add_page(g, 0x1000, k4K);
  drv.tlb_add_page(g, 0x9000, k4K);
  ASSERT_EQ(sink.log().size(), 2u) << "the first page went out with its own sync";
  EXPECT_TRUE(sink.log()[0].hits_leaf(kCtx, 0x1000, k4K));
  EXPECT_FALSE(sink.log()[0].hits_leaf(kCtx, 0x9000, k4K));
  drv.iotlb_sync(g);
  EXPECT_TRUE(sink.log()[2].hits_leaf(kCtx, 0x9000, k4K));
}

TEST(IommuDriverCommands, SyncMapInvalidatesOnlyUnderNonPresentCaching) {
  for (const auto& [name, cfg] : all_styles(/*np_caching=*/true)) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    drv.iotlb_sync_map(0x300000, 3 * k4K);
    expect_ends_with_one_sync(sink.log(), name);
    for (uint64_t iova = 0x300000; iova < 0x303000; iova += k4K)
      EXPECT_TRUE(any_hits_leaf(sink.log(), iova, k4K)) << name;
    EXPECT_EQ(drv.stats().sync_maps, 1u) << name;
  }
  for (const auto& [name, cfg] : all_styles(/*np_caching=*/false)) {
    RecordingSink sink(kCtx);
    IommuDriver drv(sink, cfg);
    drv.iotlb_sync_map(0x300000, 3 * k4K);
    EXPECT_TRUE(sink.log().empty()) << name;
  }
}

TEST(IommuDriverCommands, AmdUnderNpCacheFlushesNaturallyAlignedChunks) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kAmd, .ctx = kCtx, .np_caching = true});
  drv.iotlb_sync_map(0x3000, 5 * k4K);  // pages 3..7: 3, 4-7
  ASSERT_EQ(sink.log().size(), 3u);
  EXPECT_EQ(sink.log()[0].range, (hw::IovaRange{0x3000, 0x3fff}));
  EXPECT_EQ(sink.log()[1].range, (hw::IovaRange{0x4000, 0x7fff}));
  RecordingSink wide(kCtx);
  IommuDriver plain(wide, {.style = IommuStyle::kAmd, .ctx = kCtx});
  IotlbGather g;
  for (uint64_t iova = 0x3000; iova < 0x8000; iova += k4K) plain.tlb_add_page(g, iova, k4K);
  plain.iotlb_sync(g);
  ASSERT_EQ(wide.log().size(), 2u);
  EXPECT_EQ(wide.log()[0].range, (hw::IovaRange{0, 0x7fff})) << "one aligned block holds both ends";
}

TEST(IommuDriverCommands, VtdFallsBackToDomainSelectiveAboveMamv) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kVtd, .ctx = kCtx, .vtd_mamv = 9});
  drv.tlb_flush_walk(0, uint64_t{1} << 30, k4K);
  ASSERT_EQ(sink.log().size(), 2u);
  EXPECT_EQ(sink.log()[0].kind, hw::CommandKind::kContext);
}

// Linux 7.2's riscv_iommu_iotlb_inval without NL/S: an AV=1 IOTINVAL.VMA per page of the
// gather's leaf level (leaf-only: the walk cache stays), the whole PSCID past 512 of them.
TEST(IommuDriverCommands, RiscvOneAddressCommandPerPageUpToItsThreshold) {
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, {.style = IommuStyle::kRiscv, .ctx = kCtx});
  IotlbGather g;
  for (uint64_t iova = 0x10000; iova < 0x13000; iova += k4K) drv.tlb_add_page(g, iova, k4K);
  drv.iotlb_sync(g);
  ASSERT_EQ(sink.log().size(), 4u);
  for (uint64_t i = 0; i < 3; ++i) {
    const hw::Command& c = sink.log()[i];
    EXPECT_EQ(c.kind, hw::CommandKind::kRange);
    EXPECT_EQ(c.range, (hw::IovaRange{0x10000 + i * k4K, 0x10fff + i * k4K}));
    EXPECT_TRUE(c.leaf_only);
  }
  sink.clear_log();
  for (uint64_t iova = 0x40000000; iova < 0x40400000; iova += k2M) drv.tlb_add_page(g, iova, k2M);
  drv.iotlb_sync(g);
  ASSERT_EQ(sink.log().size(), 3u) << "one command per 2M leaf";
  EXPECT_TRUE(sink.log()[1].hits_leaf(kCtx, 0x40200000, k2M));
  sink.clear_log();
  for (uint64_t iova = 0; iova < 513 * k4K; iova += k4K) drv.tlb_add_page(g, iova, k4K);
  drv.iotlb_sync(g);
  ASSERT_EQ(sink.log().size(), 2u);
  EXPECT_EQ(sink.log()[0].kind, hw::CommandKind::kContext);
  sink.clear_log();
  drv.tlb_flush_walk(0x40200000, k2M, k4K);  // a freed table: AV=1 would keep its walk entry
  ASSERT_EQ(sink.log().size(), 2u);
  EXPECT_EQ(sink.log()[0].kind, hw::CommandKind::kContext);
  EXPECT_EQ(sink.log()[0].ctx, kCtx);
}

// With capabilities NL and S, as Linux 7.2 uses them: a walk flush by address with NL=1 (the
// walk cache for those addresses goes too), a long leaf range as one NAPOT command.
TEST(IommuDriverCommands, RiscvExtensionsNarrowWalkFlushesAndLongRanges) {
  RecordingSink sink(kCtx);
  IommuDriver nl(sink, {.style = IommuStyle::kRiscv, .ctx = kCtx, .riscv_nl = true});
  nl.tlb_flush_walk(0x40200000, 4 * k4K, k4K);
  ASSERT_EQ(sink.log().size(), 5u);
  EXPECT_EQ(sink.log()[0].kind, hw::CommandKind::kRange);
  EXPECT_FALSE(sink.log()[0].leaf_only);
  EXPECT_TRUE(sink.log()[3].hits_table(kCtx, 0x40200000, k2M));
  EXPECT_FALSE(any_hits_leaf(sink.log(), 0x40204000, k4K)) << "only the flushed range goes";
  sink.clear_log();
  IommuDriver s(sink, {.style = IommuStyle::kRiscv, .ctx = kCtx, .riscv_s = true});
  IotlbGather g;
  for (uint64_t iova = 0; iova < 600 * k4K; iova += k4K) s.tlb_add_page(g, iova, k4K);
  s.iotlb_sync(g);
  ASSERT_EQ(sink.log().size(), 2u);
  EXPECT_EQ(sink.log()[0].range, (hw::IovaRange{0, 1024 * k4K - 1}));
  EXPECT_TRUE(sink.log()[0].leaf_only);
}

TEST(IommuDriverCommands, ConfigErrorsAreExplained) {
  RecordingSink sink;
  EXPECT_THROW(IommuDriver(sink, {.ctx = 0x10000}), std::invalid_argument);
  EXPECT_THROW(IommuDriver(sink, {.smmu_stage = 3}), std::invalid_argument);
  EXPECT_THROW(IommuDriver(sink, {.smmu_page_shift = 13}), std::invalid_argument);
  EXPECT_THROW(IommuDriver(sink, {.np_caching = true}), std::invalid_argument);
  EXPECT_NO_THROW(IommuDriver(sink, {.style = IommuStyle::kVtd, .np_caching = true}));
  EXPECT_THROW(IommuDriver(sink, {.style = IommuStyle::kRiscv, .np_caching = true}),
               std::invalid_argument);
}

// Whatever pages a page table adds, in any order and size, the commands completed by the time
// iotlb_sync returns cover each one (TTL, VT-d whole-leaf and AMD block rules included).
RC_GTEST_PROP(IommuDriverCommands, GatheredPagesAreCoveredAfterIotlbSync, ()) {
  const auto styles = all_styles(*rc::gen::arbitrary<bool>());
  const StyleCase style = *rc::gen::elementOf(styles);
  const auto pages = *rc::gen::container<std::vector<std::pair<uint64_t, bool>>>(
      rc::gen::pair(rc::gen::inRange<uint64_t>(0, 64), rc::gen::arbitrary<bool>()));
  RecordingSink sink(kCtx);
  IommuDriver drv(sink, style.cfg);
  IotlbGather g;
  for (const auto& [slot, big] : pages) {
    const uint64_t size = big ? k2M : k4K;
    const uint64_t iova = big ? slot * k2M : (slot / 8) * k2M + (slot % 8) * k4K;
    sink.add_stale({iova, 0, size, 0});
    drv.tlb_add_page(g, iova, size);
  }
  drv.iotlb_sync(g);
  RC_ASSERT(sink.pending() == 0u);
  for (const ref::LeafInfo& l : sink.stale())
    RC_FAIL(style.name + std::string(": not covered: ") + std::to_string(l.iova) + "+" +
            std::to_string(l.pgsize));
}

// Each call's commands reach the sink together with their sync, even from several threads.
TEST(IommuDriverCommands, ConcurrentCallersDoNotInterleave) {
  struct CheckingSink : hw::InvalidationSink {
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    std::vector<hw::Command> log;
    void issue(const hw::Command& cmd) override {
      if (inside.fetch_add(1) != 0) overlapped = true;
      log.push_back(cmd);
      std::this_thread::yield();
      inside.fetch_sub(1);
    }
  } sink;
  IommuDriver drv(sink, {.style = IommuStyle::kSmmuV3, .ctx = kCtx, .smmu_range_inv = false});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&drv, t] {
      for (int i = 0; i < 300; ++i) {
        IotlbGather g;
        const uint64_t base = (uint64_t(t) << 32) + uint64_t(i) * 16 * k4K;
        for (uint64_t p = 0; p < 3; ++p) drv.tlb_add_page(g, base + p * k4K, k4K);
        drv.iotlb_sync(g);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(sink.overlapped.load());
  ASSERT_EQ(sink.log.size(), 4u * 300 * 4);
  // Each sync closes exactly the three page commands of one call, all from one thread.
  for (size_t i = 0; i < sink.log.size(); i += 4) {
    EXPECT_EQ(sink.log[i + 3].kind, hw::CommandKind::kSync);
    for (size_t j = 1; j < 3; ++j)
      EXPECT_EQ(sink.log[i + j].range.start, sink.log[i].range.start + j * k4K);
  }
  EXPECT_EQ(drv.stats().commands, sink.log.size());
}

}  // namespace
}  // namespace iommu::impl
