// Two threads mapping and unmapping on disjoint iova ranges that share tables at every level:
// both install tables into the same parents, fill and empty the same leaf tables (so empty
// tables are freed while the other thread maps next to them). The final tables must hold
// exactly what each thread left mapped. Run it under the tsan preset as well.
#include <gtest/gtest.h>

#include <latch>
#include <random>
#include <thread>

#include "tests/impl/pgtable_fixture.h"

namespace iommu::impl::testing {
namespace {

constexpr int RW = IOMMU_READ | IOMMU_WRITE;

struct Left {
  uint64_t iova, paddr, pgsize, count;
};

// Thread t owns the odd or even 8-page groups of a window of `span` bytes. It maps runs of up
// to 8 pages there, looks them up and unmaps them again; at the end it leaves one group in
// eight mapped.
std::vector<Left> worker(Pgtable& pt, unsigned t, uint64_t span, unsigned rounds, std::latch& start,
                         std::string& error) {
  const uint64_t pg = pt.domain_config().min_pgsize();
  const uint64_t groups = span / (8 * pg);
  std::mt19937_64 rng(t + 1);
  std::vector<Left> left;
  IotlbGather gather;
  start.arrive_and_wait();
  for (unsigned i = 0; i < rounds + groups / 2 && error.empty(); i++) {
    const bool last_pass = i >= rounds;
    const uint64_t g = (last_pass ? i - rounds : rng() % (groups / 2)) * 2 + t;
    const uint64_t iova = g * 8 * pg, count = 1 + rng() % 8;
    const uint64_t paddr = (rng() % 4096) * pg;
    uint64_t mapped = 0;
    if (pt.map_pages(iova, paddr, pg, count, RW, &mapped) != 0 || mapped != count * pg)
      error = fmt::format("thread {}: map at {:#x} failed", t, iova);
    if (pt.iova_to_phys(iova + (count - 1) * pg) != paddr + (count - 1) * pg)
      error = fmt::format("thread {}: lookup at {:#x} wrong", t, iova);
    if (last_pass && rng() % 8 == 0)
      left.push_back({iova, paddr, pg, count});
    else if (pt.unmap_pages(iova, pg, count, &gather) != count * pg)
      error = fmt::format("thread {}: unmap at {:#x} short", t, iova);
  }
  return left;
}

void run(const hw::FormatConfig& format, uint64_t span, unsigned rounds) {
  hw::TableMemory mem;
  CountingFlush flush;
  Pgtable pt({format}, mem, flush);
  std::vector<Left> left[2];
  std::string error[2];
  std::latch start(2);
  std::thread a([&] { left[0] = worker(pt, 0, span, rounds, start, error[0]); });
  std::thread b([&] { left[1] = worker(pt, 1, span, rounds, start, error[1]); });
  a.join();
  b.join();
  EXPECT_EQ(error[0], "");
  EXPECT_EQ(error[1], "");
  ref::RefPgtable ref(pt.domain_config());
  for (const auto& l : left)
    for (const Left& m : l) ref.map_pages({m.iova, m.paddr, m.pgsize, m.count, RW});
  EXPECT_EQ(compare_tables(pt, mem, ref), "");
  EXPECT_EQ(check_no_orphans(pt, mem), "");
  EXPECT_EQ(check_empty_tables_bounded(pt, mem), "");
  EXPECT_EQ(check_counts(pt, mem), "");
  EXPECT_GT(flush.walks(), 0u) << "tables were freed";
}

// 8 MiB windows: four leaf tables shared by both threads, under one table per upper level.
TEST(ImplConcurrent, DisjointRangesLpae4k) { run({"arm-64-lpae-s1-4k"}, 8 << 20, 100000); }
// Two leaf tables: both threads update their counts all the time, and each emptying of one
// frees the other (the engine keeps only the last emptied table per level).
TEST(ImplConcurrent, DisjointRangesInTwoLeafTables) {
  run({"arm-64-lpae-s1-4k"}, 4 << 20, 200000);
}
TEST(ImplConcurrent, DisjointRangesV7s) { run({"arm-v7s"}, 4 << 20, 100000); }
TEST(ImplConcurrent, DisjointRangesDartFourTtbrs) {
  run({"apple-dart", 32, 36, 4096}, 8 << 20, 100000);
}

}  // namespace
}  // namespace iommu::impl::testing
