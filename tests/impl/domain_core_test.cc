// The core loops on hand examples: which io_pgtable_ops calls iommu_map, iommu_unmap and
// iommu_map_sg make, error unrolling, the gather a lazy unmap passes, iotlb_sync_map placement.
#include <gtest/gtest.h>

#include <cerrno>

#include "base/prot.h"
#include "impl/domain.h"
#include "iommu_driver_recorder.h"
#include "ref_pgtable_ops.h"

namespace iommu::impl {
namespace {

using testing::RecordingSink;
using testing::RefPgtableOps;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr int kRw = IOMMU_READ | IOMMU_WRITE;

struct Call {
  char op;  // 'm' map_pages, 'u' unmap_pages
  uint64_t iova, pgsize, count;
  bool queued = false;
  bool operator==(const Call&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Call& c) {
  return os << c.op << "(" << std::hex << c.iova << ", " << c.pgsize << ", " << std::dec << c.count
            << (c.queued ? ", queued)" : ")");
}

// Records every call, optionally mapping at most one page per call (a driver may stop early).
class SpyOps : public RefPgtableOps {
 public:
  using RefPgtableOps::RefPgtableOps;
  std::vector<Call> calls;
  bool one_page_per_call = false;

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    calls.push_back({'m', iova, pgsize, pgcount});
    return RefPgtableOps::map_pages(iova, paddr, pgsize, one_page_per_call ? 1 : pgcount, prot,
                                    mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override {
    calls.push_back({'u', iova, pgsize, pgcount, gather && gather->queued});
    return RefPgtableOps::unmap_pages(iova, pgsize, pgcount, gather);
  }
};

ref::DomainConfig config(ref::Invalidation inv = ref::Invalidation::kStrict,
                         ref::PartialUnmap partial = ref::PartialUnmap::kSplit, bool np = false) {
  return {.pgsize_bitmap = k4K | k2M | (uint64_t{1} << 30),
          .ias = 40,
          .oas = 40,
          .partial_unmap = partial,
          .np_caching = np,
          .invalidation = inv};
}

struct Fixture {
  ref::DomainConfig cfg;
  RecordingSink sink{1};
  IommuDriver driver;
  SpyOps ops;
  testing::SinkShadow shadow{sink, cfg};
  Domain domain;
  explicit Fixture(const ref::DomainConfig& c, IommuStyle style = IommuStyle::kSmmuV3)
      : cfg(c),
        driver(sink, {.style = style, .ctx = 1, .np_caching = c.np_caching}),
        ops(cfg, driver),
        domain(ops, driver, cfg) {
    ops.set_observer(&shadow);
  }
};

TEST(DomainCore, MapSplitsTheRangeWithIommuPgsize) {
  Fixture f(config());
  ASSERT_EQ(f.domain.map(0x1ff000, 0x401ff000, k2M + 2 * k4K, kRw), 0);
  EXPECT_EQ(f.ops.calls, (std::vector<Call>{{'m', 0x1ff000, k4K, 1},
                                           {'m', 0x200000, k2M, 1},
                                           {'m', 0x400000, k4K, 1}}));
}

TEST(DomainCore, MapCallsAgainWhenTheTableStopsEarly) {
  Fixture f(config());
  f.ops.one_page_per_call = true;
  ASSERT_EQ(f.domain.map(0x10000, 0x80010000, 3 * k4K, kRw), 0);
  EXPECT_EQ(f.ops.calls, (std::vector<Call>{{'m', 0x10000, k4K, 3},
                                           {'m', 0x11000, k4K, 2},
                                           {'m', 0x12000, k4K, 1}}));
  EXPECT_EQ(f.domain.iova_to_phys(0x12345), 0x80012345u);
}

TEST(DomainCore, FailedMapUnrollsAndSyncsWhatItMapped) {
  for (auto inv : {ref::Invalidation::kStrict, ref::Invalidation::kLazy}) {
    Fixture f(config(inv));
    ASSERT_EQ(f.domain.map(0x5000, 0x90005000, k4K, kRw), 0);
    f.ops.calls.clear();
    EXPECT_EQ(f.domain.map(0x1000, 0x80001000, 8 * k4K, kRw), -EEXIST);
    EXPECT_EQ(f.domain.iova_to_phys(0x1000), 0u);
    EXPECT_EQ(f.domain.iova_to_phys(0x4000), 0u);
    EXPECT_EQ(f.domain.iova_to_phys(0x5000), 0x90005000u) << "the old mapping stays";
    ASSERT_GE(f.ops.calls.size(), 2u);
    EXPECT_EQ(f.ops.calls.back(), (Call{'u', 0x1000, k4K, 4})) << "iommu_unmap is never queued";
    EXPECT_TRUE(f.sink.stale().empty());
    EXPECT_EQ(f.driver.stats().iotlb_syncs, 1u);
  }
}

TEST(DomainCore, UnalignedOrEmptyRequestsNeverReachTheTable) {
  Fixture f(config());
  EXPECT_EQ(f.domain.map(0x1800, 0x1000, k4K, kRw), -EINVAL);
  EXPECT_EQ(f.domain.map(0x1000, 0x1800, k4K, kRw), -EINVAL);
  EXPECT_EQ(f.domain.map(0x1000, 0x1000, 0x800, kRw), -EINVAL);
  EXPECT_EQ(f.domain.map(0x1000, 0x1000, 0, kRw), 0);
  EXPECT_EQ(f.domain.unmap(0x1800, k4K), 0u);
  EXPECT_EQ(f.domain.unmap(0x1000, 0x800), 0u);
  EXPECT_EQ(f.domain.unmap(0x1000, 0), 0u);
  EXPECT_TRUE(f.ops.calls.empty());
  EXPECT_EQ(f.driver.stats().commands, 0u);
}

TEST(DomainCore, UnmapStopsAtTheFirstHole) {
  Fixture f(config());
  ASSERT_EQ(f.domain.map(0x10000, 0x80010000, 2 * k4K, kRw), 0);
  ASSERT_EQ(f.domain.map(0x13000, 0x80013000, k4K, kRw), 0);
  f.ops.calls.clear();
  EXPECT_EQ(f.domain.unmap(0x10000, 4 * k4K), 2 * k4K);
  EXPECT_EQ(f.ops.calls, (std::vector<Call>{{'u', 0x10000, k4K, 4}, {'u', 0x12000, k4K, 2}}));
  EXPECT_EQ(f.domain.iova_to_phys(0x13000), 0x80013000u);
}

TEST(DomainCore, UnmapOfPartOfALeafUnderWholeReturnsTheLeaf) {
  Fixture f(config(ref::Invalidation::kStrict, ref::PartialUnmap::kWhole));
  ASSERT_EQ(f.domain.map(k2M, 0x40000000, k2M, kRw), 0);
  EXPECT_EQ(f.domain.unmap(k2M, k4K), k2M);
  EXPECT_EQ(f.domain.iova_to_phys(k2M + k4K), 0u);
}

TEST(DomainCore, StrictUnmapSyncsOnceLazyQueuesAndSendsNothing) {
  Fixture strict(config());
  ASSERT_EQ(strict.domain.map(0, 0x80000000, 8 * k4K, kRw), 0);
  EXPECT_EQ(strict.domain.unmap(0, 8 * k4K), 8 * k4K);
  EXPECT_EQ(strict.driver.stats().iotlb_syncs, 1u);
  EXPECT_FALSE(strict.ops.calls.back().queued);

  Fixture lazy(config(ref::Invalidation::kLazy));
  ASSERT_EQ(lazy.domain.map(k2M - 4 * k4K, 0x80000000 - 4 * k4K, 4 * k4K + k2M, kRw), 0);
  EXPECT_EQ(lazy.domain.unmap(k2M - 4 * k4K, 4 * k4K + k2M), 4 * k4K + k2M);
  for (const Call& c : lazy.ops.calls) {
    if (c.op == 'u') {
      EXPECT_TRUE(c.queued) << c;
    }
  }
  EXPECT_EQ(lazy.driver.stats().commands, 0u);
  EXPECT_EQ(lazy.sink.stale().size(), 5u);
  lazy.domain.flush_iotlb_all();
  EXPECT_TRUE(lazy.sink.stale().empty());
}

TEST(DomainCore, UnmapFastLeavesTheGatherToTheCaller) {
  Fixture f(config());
  ASSERT_EQ(f.domain.map(0, 0x80000000, 4 * k4K, kRw), 0);
  IotlbGather g;
  EXPECT_EQ(f.domain.unmap_fast(0, 4 * k4K, g), 4 * k4K);
  EXPECT_EQ(f.driver.stats().commands, 0u);
  EXPECT_EQ(g.start, 0u);
  EXPECT_EQ(g.end, 4 * k4K - 1);
  f.domain.iotlb_sync(g);
  EXPECT_TRUE(f.sink.stale().empty());
  EXPECT_TRUE(g.empty());
}

TEST(DomainCore, MapSgMergesContiguousSegmentsAndSyncsOnceAtTheEnd) {
  Fixture f(config(ref::Invalidation::kStrict, ref::PartialUnmap::kSplit, /*np=*/true),
            IommuStyle::kVtd);
  const Segment segs[] = {{0x80000000, k2M / 2}, {0x80100000, k2M / 2}, {0x90000000, k4K}};
  EXPECT_EQ(f.domain.map_sg(k2M, segs, kRw), static_cast<int64_t>(k2M + k4K));
  EXPECT_EQ(f.ops.calls, (std::vector<Call>{{'m', k2M, k2M, 1}, {'m', 2 * k2M, k4K, 1}}))
      << "the two halves are one physically contiguous 2M run";
  EXPECT_EQ(f.driver.stats().sync_maps, 1u);
  EXPECT_TRUE(f.sink.log().front().hits_leaf(1, k2M, k4K));
  EXPECT_TRUE(f.sink.log().front().hits_leaf(1, 2 * k2M, k4K));
}

TEST(DomainCore, FailedMapSgUnmapsEveryRun) {
  Fixture f(config());
  ASSERT_EQ(f.domain.map(0x13000, 0x70000000, k4K, kRw), 0);
  const Segment segs[] = {{0x80000000, 2 * k4K}, {0x90000000, k4K}, {0xa0000000, 2 * k4K}};
  EXPECT_EQ(f.domain.map_sg(0x10000, segs, kRw), -EEXIST);
  EXPECT_EQ(f.domain.iova_to_phys(0x10000), 0u);
  EXPECT_EQ(f.domain.iova_to_phys(0x12000), 0u);
  EXPECT_EQ(f.domain.iova_to_phys(0x13000), 0x70000000u);
  const Segment empty[] = {{0x80000000, k4K}, {0x80001000, 0}};  // contiguous, zero length
  f.ops.calls.clear();
  EXPECT_EQ(f.domain.map_sg(0x20000, empty, kRw), -EINVAL);
  EXPECT_EQ(f.domain.iova_to_phys(0x20000), 0u);
  EXPECT_TRUE(f.sink.stale().empty());
  // The run before the zero-length entry is mapped, as ref's core maps it, then unrolled.
  EXPECT_EQ(f.ops.calls, (std::vector<Call>{{'m', 0x20000, k4K, 1}, {'u', 0x20000, k4K, 1}}));
}

// A page table answering 0 with nothing mapped would hang Linux's loop (virtio-iommu on a
// detached domain); the core refuses it loudly instead.
TEST(DomainCore, MapPagesThatMakesNoProgressIsABug) {
  struct Stuck : SpyOps {
    using SpyOps::SpyOps;
    int map_pages(uint64_t, uint64_t, uint64_t, uint64_t, int, uint64_t*) override { return 0; }
  };
  ref::DomainConfig cfg = config();
  RecordingSink sink;
  IommuDriver drv(sink, {});
  Stuck ops(cfg, drv);
  Domain d(ops, drv, cfg);
  EXPECT_THROW(d.map(0, 0, k4K, kRw), std::logic_error);
}

TEST(DomainCore, ConfigurationMistakesAreRefused) {
  ref::DomainConfig cfg = config();
  RecordingSink sink;
  IommuDriver vtd_cm(sink, {.style = IommuStyle::kVtd, .np_caching = true});
  RefPgtableOps ops(cfg, vtd_cm);
  EXPECT_THROW(Domain(ops, vtd_cm, cfg), std::invalid_argument);
  ref::DomainConfig bad = cfg;
  bad.pgsize_bitmap = 0;
  IommuDriver plain(sink, {});
  EXPECT_THROW(Domain(ops, plain, bad), ref::ConfigError);
}

}  // namespace
}  // namespace iommu::impl
