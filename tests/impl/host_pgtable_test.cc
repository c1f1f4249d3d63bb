// The production engine (HostPgtable: tables in host memory) against the checked one that
// `check` drives (Pgtable over hw::TableMemory): the same template code over two memories, so
// the same calls must give the same answers and the same flush calls, for every format.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "impl/host_memory.h"
#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

// Every flush call, in order, as text.
class RecordingFlush : public FlushOps {
 public:
  void tlb_flush_all() override { log.push_back("all"); }
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) override {
    log.push_back(fmt::format("walk {:#x} {:#x} {:#x}", iova, size, granule));
  }
  void tlb_add_page(IotlbGather&, uint64_t iova, uint64_t granule) override {
    log.push_back(fmt::format("page {:#x} {:#x}", iova, granule));
  }
  std::vector<std::string> log;
};

class HostAgreement : public ::testing::TestWithParam<Case> {};

// Random map_pages/unmap_pages/iova_to_phys calls aimed at a small window, so that runs
// collide, leaves are split and tables empty and are freed.
TEST_P(HostAgreement, SameAnswersAndFlushesAsTheCheckedEngine) {
  const Case& c = GetParam();
  for (auto policy : {ref::PartialUnmap::kSplit, ref::PartialUnmap::kWhole}) {
    hw::TableMemory mem(c.window);
    RecordingFlush checked_flush, host_flush;
    const PgtableConfig cfg{.format = c.format, .partial_unmap = policy};
    Pgtable checked(cfg, mem, checked_flush);
    HostPgtable host(cfg, host_flush);
    const hw::Geometry& g = checked.format().geo();
    std::vector<uint64_t> sizes;
    for (uint64_t b = g.pgsize_bitmap; b; b &= b - 1) sizes.push_back(b & -b);
    std::mt19937_64 rng(7);
    const uint64_t window = std::min<uint64_t>(sizes.back() * 4, uint64_t{1} << (g.ias - 1));
    for (int op = 0; op < 600; op++) {
      const uint64_t pgsize = sizes[rng() % sizes.size()];
      const uint64_t pgcount = 1 + rng() % 40;
      const uint64_t iova = (rng() % window) & ~(pgsize - 1);
      SCOPED_TRACE(fmt::format("op {} iova {:#x} pgsize {:#x} x{}", op, iova, pgsize, pgcount));
      switch (rng() % 3) {
        case 0: {
          const uint64_t paddr = (rng() % window) & ~(pgsize - 1);
          const int prot = static_cast<int>(1 + rng() % 63);
          uint64_t mapped_checked = 0, mapped_host = 0;
          ASSERT_EQ(checked.map_pages(iova, paddr, pgsize, pgcount, prot, &mapped_checked),
                    host.map_pages(iova, paddr, pgsize, pgcount, prot, &mapped_host));
          ASSERT_EQ(mapped_checked, mapped_host);
          break;
        }
        case 1: {
          IotlbGather a, b;
          ASSERT_EQ(checked.unmap_pages(iova, pgsize, pgcount, &a),
                    host.unmap_pages(iova, pgsize, pgcount, &b));
          break;
        }
        default: {
          const uint64_t at = iova + rng() % pgsize;
          ASSERT_EQ(checked.iova_to_phys(at), host.iova_to_phys(at));
        }
      }
      ASSERT_EQ(checked_flush.log, host_flush.log);
    }
  }
}

// One page mapped and unmapped in one leaf table after another: tables empty, are freed and
// come back from the allocator (which must hand them out zeroed).
TEST_P(HostAgreement, TablesFreedAndReusedAsInTheCheckedEngine) {
  const Case& c = GetParam();
  hw::TableMemory mem(c.window);
  RecordingFlush checked_flush, host_flush;
  const PgtableConfig cfg{.format = c.format};
  Pgtable checked(cfg, mem, checked_flush);
  HostPgtable host(cfg, host_flush);
  const hw::Geometry& g = checked.format().geo();
  const uint64_t pgsize = g.pgsize_bitmap & -g.pgsize_bitmap;
  const hw::LevelGeometry& leaf = g.at(g.last_level);
  const uint64_t stride = (uint64_t{1} << (leaf.shift + leaf.index_bits)) + pgsize;
  const uint64_t space = uint64_t{1} << (g.ias - 1);
  for (uint64_t i = 0; i < 300; i++) {
    const uint64_t iova = (i * stride) % space, previous = ((i - 1) * stride) % space;
    SCOPED_TRACE(fmt::format("pair {} iova {:#x}", i, iova));
    uint64_t a = 0, b = 0;
    ASSERT_EQ(checked.map_pages(iova, pgsize, pgsize, 1, IOMMU_READ, &a),
              host.map_pages(iova, pgsize, pgsize, 1, IOMMU_READ, &b));
    ASSERT_EQ(checked.iova_to_phys(previous), host.iova_to_phys(previous));
    IotlbGather ga, gb;
    if (i % 2) {
      ASSERT_EQ(checked.unmap_pages(iova, pgsize, 1, &ga), host.unmap_pages(iova, pgsize, 1, &gb));
    }
    ASSERT_EQ(checked_flush.log, host_flush.log);
  }
  EXPECT_EQ(host.table_bytes(), mem.live_bytes());
}

INSTANTIATE_TEST_SUITE_P(Formats, HostAgreement, ::testing::ValuesIn(all_cases()), case_name);

TEST(HostMemory, HandsOutZeroedMemoryAlignedToItsSizeAndReusesFreedMemory) {
  HostMemory mem(48);
  const uint64_t a = *mem.alloc(0x1000);
  EXPECT_EQ(a % 0x1000, 0u);
  mem.write64(a + 8, 0x1234);
  mem.meta(a).store(7);
  EXPECT_EQ(mem.live_bytes(), 0x1000u);
  mem.free(a);
  EXPECT_EQ(mem.live_bytes(), 0u);
  const uint64_t b = *mem.alloc(0x1000);
  EXPECT_EQ(b, a) << "freed memory comes back first";
  EXPECT_EQ(mem.read64(b + 8), 0u);
  EXPECT_EQ(mem.meta(b).load(), 0u);
  const uint64_t small = *mem.alloc(32);  // a 32-bit LPAE PGD: rounded up to 1 KiB
  EXPECT_EQ(small % 0x400, 0u);
  EXPECT_EQ(mem.allocation_bytes(small).size(), 0x400u);
  EXPECT_THROW(mem.free(small + 8), std::logic_error);
}

TEST(HostPgtable, RefusesASeededBug) {
  RecordingFlush flush;
  EXPECT_THROW(HostPgtable({.format = {"arm-64-lpae-s1-4k"}, .bug = Mutant::kNoEexist}, flush),
               std::invalid_argument);
}

}  // namespace
}  // namespace iommu::impl::testing
