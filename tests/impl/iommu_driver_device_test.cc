// End to end, per driver style: the core maps and unmaps through a real LPAE table that a
// hw::Device walks and caches, and the driver's encoded commands must really remove what the
// device cached: translations after a strict unmap, cached faults after iotlb_sync_map under
// non-present caching, walk-cache pointers to a table that is freed.
#include <gtest/gtest.h>

#include <memory>

#include "base/prot.h"
#include "hw/device.h"
#include "impl/domain.h"
#include "ref_pgtable_ops.h"
#include "ref_pgtable_ops_hw.h"

namespace iommu::impl {
namespace {

using testing::HwMirror;
using testing::RefPgtableOps;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr hw::ContextId kCtx = 9;
constexpr hw::Access kRead{};
constexpr int kRw = IOMMU_READ | IOMMU_WRITE;

struct Style {
  const char* name;
  IommuDriverConfig cfg;
};

void PrintTo(const Style& s, std::ostream* os) { *os << s.name; }

enum class Broken { kNone, kNoFence, kFirstAddressOnly };

// A driver bug just before the hardware, as a seeded mutant: each call's commands without their
// sync (RISC-V IOFENCE.C), or without every address command but the first.
class BrokenSink : public hw::InvalidationSink {
 public:
  BrokenSink(hw::InvalidationSink& hw, Broken broken) : hw_(hw), broken_(broken) {}

  void issue(const hw::Command& cmd) override {
    if (cmd.kind == hw::CommandKind::kSync) {
      ranges_ = 0;
      if (broken_ == Broken::kNoFence) return;
    } else if (cmd.kind == hw::CommandKind::kRange && ranges_++ > 0 &&
               broken_ == Broken::kFirstAddressOnly) {
      return;
    }
    hw_.issue(cmd);
  }

 private:
  hw::InvalidationSink& hw_;
  Broken broken_;
  unsigned ranges_ = 0;
};

// The device's commands pass through here, so a test can see what was sent too.
struct World {
  hw::TableMemory mem;
  std::unique_ptr<hw::Device> device;
  std::unique_ptr<BrokenSink> sink;
  std::unique_ptr<IommuDriver> driver;
  std::unique_ptr<RefPgtableOps> ops;
  std::unique_ptr<HwMirror> mirror;
  std::unique_ptr<Domain> domain;

  World(IommuDriverConfig drv, ref::Invalidation inv, ref::PartialUnmap partial,
        Broken broken = Broken::kNone) {
    const ref::DomainConfig cfg{.pgsize_bitmap = testing::kMirrorPgsizes,
                                .ias = testing::kMirrorIas,
                                .oas = 40,
                                .partial_unmap = partial,
                                .np_caching = drv.np_caching,
                                .invalidation = inv};
    drv.ctx = kCtx;
    device = std::make_unique<hw::Device>(
        mem, hw::make_format({.name = "arm-64-lpae-s1-4k", .ias = testing::kMirrorIas}),
        hw::DeviceConfig{.ctx = kCtx, .iotlb = {.cache_faults = drv.np_caching}});
    sink = std::make_unique<BrokenSink>(device->invalidation(), broken);
    driver = std::make_unique<IommuDriver>(*sink, drv);
    ops = std::make_unique<RefPgtableOps>(cfg, *driver);
    mirror = std::make_unique<HwMirror>(*ops, mem, *driver);
    ops->set_observer(mirror.get());
    device->set_roots(std::span<const uint64_t>(&mirror->root(), 1));
    domain = std::make_unique<Domain>(*ops, *driver, cfg);
  }

  bool reaches(uint64_t iova, uint64_t paddr) {
    const hw::AccessResult r = device->translate(iova, kRead);
    return r.ok() && r.paddr(iova) == paddr;
  }
  // No outcome the hardware may still produce lets the access through.
  bool gone(uint64_t iova) const {
    for (const hw::AccessResult& r : device->possible(iova, kRead))
      if (r.ok()) return false;
    return true;
  }
  bool walks_freed_memory(uint64_t iova) const {
    for (const hw::AccessResult& r : device->possible(iova, kRead))
      if (r.fault && r.fault->reason == hw::FaultReason::kBadTable) return true;
    return false;
  }
};

std::string style_name(const ::testing::TestParamInfo<Style>& p) { return p.param.name; }

class DeviceEndToEnd : public ::testing::TestWithParam<Style> {};

TEST_P(DeviceEndToEnd, StrictUnmapRemovesEveryCachedTranslation) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  ASSERT_EQ(w.domain->map(0x100000, 0x80100000, 16 * k4K, kRw), 0);
  ASSERT_EQ(w.domain->map(0x400000, 0x80400000, k2M, kRw), 0);
  for (uint64_t off = 0; off < 16 * k4K; off += k4K)
    ASSERT_TRUE(w.reaches(0x100000 + off, 0x80100000 + off));
  ASSERT_TRUE(w.reaches(0x400000 + 0x1234, 0x80401234));
  ASSERT_GT(w.device->iotlb().size(), 16u);

  EXPECT_EQ(w.domain->unmap(0x100000, 16 * k4K), 16 * k4K);
  EXPECT_EQ(w.domain->unmap(0x400000, k2M), k2M);
  for (uint64_t off = 0; off < 16 * k4K; off += k4K) EXPECT_TRUE(w.gone(0x100000 + off)) << off;
  EXPECT_TRUE(w.gone(0x400000));
  EXPECT_TRUE(w.gone(0x400000 + k2M - k4K));
  EXPECT_EQ(w.device->pending_commands(), 0u) << "every command was completed by a sync";
}

// Pages of two sizes and a gap, gathered by one unmap_fast each: the gather must issue what
// it holds before taking a page it cannot merge, and iotlb_sync the rest.
TEST_P(DeviceEndToEnd, OneGatherOverDisjointRangesAndSizesCoversThemAll) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  ASSERT_EQ(w.domain->map(0x100000, 0x80100000, 4 * k4K, kRw), 0);
  ASSERT_EQ(w.domain->map(0x180000, 0x80180000, 4 * k4K, kRw), 0);
  ASSERT_EQ(w.domain->map(0x600000, 0x80600000, k2M, kRw), 0);
  const uint64_t probes[] = {0x100000, 0x103000, 0x180000, 0x183000, 0x600000, 0x7ff000};
  for (uint64_t iova : probes) ASSERT_TRUE(w.device->translate(iova, kRead).ok());
  IotlbGather g;
  EXPECT_EQ(w.domain->unmap_fast(0x100000, 4 * k4K, g), 4 * k4K);
  EXPECT_EQ(w.domain->unmap_fast(0x180000, 4 * k4K, g), 4 * k4K);
  EXPECT_EQ(w.domain->unmap_fast(0x600000, k2M, g), k2M);
  w.domain->iotlb_sync(g);
  for (uint64_t iova : probes) EXPECT_TRUE(w.gone(iova)) << std::hex << iova;
}

// One unmap over 4K pages and the 2M block right after them: the gather must not merge the two
// sizes (an SMMUv3 TLBI carries one TTL hint, so the merged command would miss the pages).
TEST_P(DeviceEndToEnd, AdjacentLeavesOfTwoSizesInOneUnmap) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  ASSERT_EQ(w.domain->map(0x3fc000, 0x803fc000, 4 * k4K, kRw), 0);
  ASSERT_EQ(w.domain->map(0x400000, 0x80400000, k2M, kRw), 0);
  const uint64_t probes[] = {0x3fc000, 0x3ff000, 0x400000, 0x5ff000};
  for (uint64_t iova : probes) ASSERT_TRUE(w.device->translate(iova, kRead).ok());
  EXPECT_EQ(w.domain->unmap(0x3fc000, 4 * k4K + k2M), 4 * k4K + k2M);
  for (uint64_t iova : probes) EXPECT_TRUE(w.gone(iova)) << std::hex << iova;
}

TEST_P(DeviceEndToEnd, LazyUnmapStaysVisibleUntilFlushIotlbAll) {
  World w(GetParam().cfg, ref::Invalidation::kLazy, ref::PartialUnmap::kWhole);
  ASSERT_EQ(w.domain->map(0x200000, 0x90000000, 4 * k4K, kRw), 0);
  ASSERT_TRUE(w.reaches(0x201000, 0x90001000));
  const uint64_t sent = w.driver->stats().commands;
  EXPECT_EQ(w.domain->unmap(0x200000, 4 * k4K), 4 * k4K);
  EXPECT_EQ(w.driver->stats().commands, sent) << "a lazy unmap sends nothing";
  EXPECT_TRUE(w.reaches(0x201000, 0x90001000)) << "stale until the flush queue flushes";
  w.domain->flush_iotlb_all();
  EXPECT_TRUE(w.gone(0x201000));
}

// The table side's duty: before a table page is freed, tlb_flush_walk drops the walk-cache
// entry pointing at it, so no walk resumes in freed memory.
TEST_P(DeviceEndToEnd, WalkFlushBeforeFreeingATableKeepsWalksOutOfFreedMemory) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  ASSERT_EQ(w.domain->map(0x400000, 0x80000000, k4K, kRw), 0);
  ASSERT_TRUE(w.reaches(0x400000, 0x80000000));  // caches the level-2 descriptor -> table
  ASSERT_EQ(w.domain->unmap(0x400000, k4K), k4K);
  ASSERT_EQ(w.domain->map(0x400000, 0xa0000000, k2M, kRw), 0);  // the empty table goes
  EXPECT_EQ(w.driver->stats().flush_walks, 1u);
  EXPECT_FALSE(w.walks_freed_memory(0x401000));
  EXPECT_TRUE(w.reaches(0x401000, 0xa0001000));
}

INSTANTIATE_TEST_SUITE_P(
    Styles, DeviceEndToEnd,
    ::testing::Values(Style{"smmuv3", {.style = IommuStyle::kSmmuV3}},
                      Style{"smmuv3_s2", {.style = IommuStyle::kSmmuV3, .smmu_stage = 2}},
                      Style{"smmuv3_norange", {.style = IommuStyle::kSmmuV3, .smmu_range_inv = false}},
                      Style{"vtd", {.style = IommuStyle::kVtd}},
                      Style{"vtd_cm", {.style = IommuStyle::kVtd, .np_caching = true}},
                      Style{"amd", {.style = IommuStyle::kAmd}},
                      Style{"amd_npcache", {.style = IommuStyle::kAmd, .np_caching = true}},
                      Style{"riscv", {.style = IommuStyle::kRiscv}},
                      Style{"riscv_nl_s",
                            {.style = IommuStyle::kRiscv, .riscv_nl = true, .riscv_s = true}}),
    style_name);

// A finding about Linux 6.12's split (arm_lpae_split_blk_unmap): it calls tlb_add_page for the
// removed pieces at the split granule only. The cached 2M block is then not covered where the
// invalidation is level-specific: SMMUv3 range TLBIs carry TTL = level 3, and a VT-d PSI must
// span a superpage to remove it. After a strict unmap the device still reaches the unmapped
// page. AMD range invalidations have no such rule. Flushing the whole cut leaf covers it.
TEST_P(DeviceEndToEnd, SplitOfACachedBlockNeedsTheBlockFlushed) {
  const IommuDriverConfig cfg = GetParam().cfg;
  for (bool whole : {false, true}) {
    World w(cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kSplit);
    w.ops->set_split_flushes_whole_leaf(whole);
    ASSERT_EQ(w.domain->map(0x400000, 0x80400000, k2M, kRw), 0);
    ASSERT_TRUE(w.reaches(0x400000, 0x80400000));
    ASSERT_EQ(w.domain->unmap(0x400000, k4K), k4K);
    EXPECT_TRUE(w.reaches(0x401000, 0x80401000)) << "the rest of the block stays mapped";
    const bool level_specific =
        (cfg.style == IommuStyle::kSmmuV3 && cfg.smmu_range_inv) || cfg.style == IommuStyle::kVtd;
    EXPECT_EQ(w.gone(0x400000), whole || !level_specific) << (whole ? "whole-leaf flush" : "6.12 flush");
  }
}

// The hardware model catches a RISC-V driver that skips IOFENCE.C (its IOTINVAL.VMAs never
// complete) or sends only the first page's IOTINVAL.VMA of a range: a translation of an
// unmapped page stays visible to the device.
TEST(RiscvBrokenDriver, SkippedFenceOrFirstPageOnlyLeavesAStaleTranslation) {
  for (Broken broken : {Broken::kNone, Broken::kNoFence, Broken::kFirstAddressOnly}) {
    World w({.style = IommuStyle::kRiscv}, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole,
            broken);
    ASSERT_EQ(w.domain->map(0x100000, 0x80100000, 4 * k4K, kRw), 0);
    for (uint64_t off = 0; off < 4 * k4K; off += k4K)
      ASSERT_TRUE(w.reaches(0x100000 + off, 0x80100000 + off));
    ASSERT_EQ(w.domain->unmap(0x100000, 4 * k4K), 4 * k4K);
    const int b = static_cast<int>(broken);
    EXPECT_EQ(w.gone(0x100000), broken != Broken::kNoFence) << b;
    EXPECT_EQ(w.gone(0x103000), broken == Broken::kNone) << b;
    EXPECT_EQ(w.device->pending_commands() != 0, broken == Broken::kNoFence) << b;
  }
}

// The RISC-V driver against a device walking real Sv39 tables (written with the format's
// codec): AV=1 commands remove 4K and 64K NAPOT leaves, but leave the walk cache's pointer to a
// table that a 2M leaf replaced, as the spec allows; only the walk flush removes it (AV=0, or
// AV=1 with NL=1 where the IOMMU has NL).
TEST(RiscvDevice, Sv39LeavesGoWithAddressCommandsTablesOnlyWithTheWalkFlush) {
  for (bool nl : {false, true}) {
    SCOPED_TRACE(nl ? "NL" : "base");
    const IommuDriverConfig cfg{.style = IommuStyle::kRiscv, .ctx = kCtx, .riscv_nl = nl};
    hw::TableMemory mem;
    const hw::Format fmt = hw::make_format({.name = "riscv-sv39"});
    const uint64_t root = *mem.alloc(4096), l3 = *mem.alloc(4096), l4 = *mem.alloc(4096);
    mem.write64(root + 1 * 8, fmt.make_table(l3));
    mem.write64(l3 + 2 * 8, fmt.make_table(l4));
    mem.write64(l4 + 3 * 8, fmt.make_leaf(0x90000000, k4K, kRw));
    for (uint64_t i = 0x10; i < 0x20; i++)
      mem.write64(l4 + i * 8, fmt.make_leaf(0x90010000, 0x10000, kRw));
    hw::Device dev(mem, fmt, {.ctx = kCtx});
    dev.set_roots(std::span<const uint64_t>(&root, 1));
    IommuDriver drv(dev.invalidation(), cfg);
    auto gone = [&](uint64_t iova) {
      for (const hw::AccessResult& r : dev.possible(iova, kRead))
        if (r.ok()) return false;
      return true;
    };
    ASSERT_TRUE(dev.translate(0x40403000, kRead).ok());
    ASSERT_TRUE(dev.translate(0x40415000, kRead).ok());
    mem.write64(l4 + 3 * 8, 0);
    for (uint64_t i = 0x10; i < 0x20; i++) mem.write64(l4 + i * 8, 0);
    IotlbGather g;
    drv.tlb_add_page(g, 0x40403000, k4K);
    drv.iotlb_sync(g);
    drv.tlb_add_page(g, 0x40410000, 0x10000);
    drv.iotlb_sync(g);
    EXPECT_TRUE(gone(0x40403000));
    EXPECT_TRUE(gone(0x40415000));

    mem.write64(l3 + 2 * 8, fmt.make_leaf(0xa0000000, k2M, kRw));  // the table becomes a 2M leaf
    mem.free(l4);
    drv.tlb_add_page(g, 0x40400000, k2M);
    drv.iotlb_sync(g);
    auto walks_freed = [&](uint64_t iova) {
      for (const hw::AccessResult& r : dev.possible(iova, kRead))
        if (r.fault && r.fault->reason == hw::FaultReason::kBadTable) return true;
      return false;
    };
    EXPECT_TRUE(walks_freed(0x40405000)) << "AV=1 keeps non-leaf entries";
    drv.tlb_flush_walk(0x40400000, k2M, k4K);
    EXPECT_FALSE(walks_freed(0x40405000));
    EXPECT_EQ(dev.translate(0x40405000, kRead).paddr(0x40405000), 0xa0005000u);
  }
}

class NonPresentCaching : public ::testing::TestWithParam<Style> {};

TEST_P(NonPresentCaching, IotlbSyncMapMakesACachedFaultGoAway) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  const uint64_t iova = 0x300000;
  EXPECT_FALSE(w.device->translate(iova, kRead).ok());  // the fault is cached now
  ASSERT_EQ(w.domain->map_nosync(iova, 0x90000000, 2 * k4K, kRw), 0);
  EXPECT_FALSE(w.device->translate(iova, kRead).ok()) << "hidden until iotlb_sync_map";
  w.domain->iotlb_sync_map(iova, 2 * k4K);
  EXPECT_TRUE(w.reaches(iova, 0x90000000));
}

TEST_P(NonPresentCaching, MapAndMapSgPublishWhatTheyMap) {
  World w(GetParam().cfg, ref::Invalidation::kStrict, ref::PartialUnmap::kWhole);
  for (uint64_t iova = 0x500000; iova < 0x508000; iova += k4K)
    EXPECT_FALSE(w.device->translate(iova, kRead).ok());
  ASSERT_EQ(w.domain->map(0x500000, 0x90000000, 2 * k4K, kRw), 0);
  const Segment segs[] = {{0x91000000, k4K}, {0x91001000, k4K}, {0x92000000, 4 * k4K}};
  ASSERT_EQ(w.domain->map_sg(0x502000, segs, kRw), 6 * static_cast<int64_t>(k4K));
  EXPECT_TRUE(w.reaches(0x500000, 0x90000000));
  EXPECT_TRUE(w.reaches(0x503000, 0x91001000));
  EXPECT_TRUE(w.reaches(0x507000, 0x92003000));
}

INSTANTIATE_TEST_SUITE_P(
    Styles, NonPresentCaching,
    ::testing::Values(Style{"vtd_cm", {.style = IommuStyle::kVtd, .np_caching = true}},
                      Style{"amd_npcache", {.style = IommuStyle::kAmd, .np_caching = true}}),
    style_name);

}  // namespace
}  // namespace iommu::impl
