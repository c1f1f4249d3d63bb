// The DMA layer end to end (allocator, core, driver, flush queue) over the ref-backed table.
// The security invariant, on random map/unmap/time sequences in every queue style: an IOVA is
// never handed out again while a translation from its previous mapping may still be cached,
// i.e. before a flush_iotlb_all that started after its unmap; and live ranges never overlap.
#include "impl/dma.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cerrno>

#include "base/prot.h"
#include "iommu_driver_recorder.h"
#include "ref_pgtable_ops.h"

namespace iommu::impl {
namespace {

using std::chrono::milliseconds;
using testing::RecordingSink;
using testing::RefPgtableOps;
using testing::SinkShadow;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;
constexpr int kRw = IOMMU_READ | IOMMU_WRITE;

ref::DomainConfig config(ref::Invalidation inv, unsigned ias = 32) {
  return {.pgsize_bitmap = k4K | k2M, .ias = ias, .oas = 40, .invalidation = inv};
}

struct Stack {
  ref::DomainConfig cfg;
  RecordingSink sink{2};
  IommuDriver driver;
  RefPgtableOps ops;
  SinkShadow shadow{sink, cfg};
  Domain domain;
  ManualClock clock;
  Dma dma;

  Stack(const ref::DomainConfig& c, const DmaConfig& d = {})
      : cfg(c),
        driver(sink, {.style = IommuStyle::kSmmuV3, .ctx = 2}),
        ops(cfg, driver),
        domain(ops, driver, cfg),
        dma(domain, clock, d) {
    ops.set_observer(&shadow);
  }
};

TEST(Dma, MapKeepsTheOffsetAndAlignsTheIova) {
  Stack s(config(ref::Invalidation::kStrict));
  const DmaMapping m = s.dma.dma_map(0x80001234, 0x3000, kRw);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.iova & 0xfff, 0x234u);
  EXPECT_EQ((m.iova & ~uint64_t{0xfff}) % (4 * k4K), 0u) << "4 pages, aligned to 4 pages";
  EXPECT_EQ(s.domain.iova_to_phys(m.iova), 0x80001234u);
  EXPECT_EQ(s.domain.iova_to_phys(m.iova + 0x2fff), 0x80004233u);
  EXPECT_TRUE(s.dma.iovas().is_live(m.iova & ~uint64_t{0xfff}, 4 * k4K));
}

TEST(Dma, LargeMappingsUseBlocks) {
  Stack s(config(ref::Invalidation::kStrict));
  const DmaMapping m = s.dma.dma_map(0x40000000, 2 * k2M, kRw);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.iova % k2M, 0u) << "alignment capped at the largest page, still 2M";
  EXPECT_EQ(s.ops.ref().leaves().leaf_at(m.iova)->pgsize, k2M);
}

TEST(Dma, StrictUnmapFlushesAndFreesAtOnce) {
  Stack s(config(ref::Invalidation::kStrict));
  const DmaMapping m = s.dma.dma_map(0x80000000, 2 * k4K, kRw);
  ASSERT_TRUE(m.ok());
  s.dma.dma_unmap(m.iova, 2 * k4K);
  EXPECT_EQ(s.dma.iovas().live_count(), 0u);
  EXPECT_TRUE(s.sink.stale().empty());
  EXPECT_EQ(s.domain.iova_to_phys(m.iova), 0u);
  EXPECT_EQ(s.dma.dma_map(0x90000000, 2 * k4K, kRw).iova, m.iova) << "reused at once";
}

TEST(Dma, LazyUnmapHoldsTheIovaUntilTheQueueFlushes) {
  Stack s(config(ref::Invalidation::kLazy));
  const DmaMapping m = s.dma.dma_map(0x80000000, k4K, kRw);
  s.dma.dma_unmap(m.iova, k4K);
  EXPECT_EQ(s.domain.iova_to_phys(m.iova), 0u) << "gone from the table";
  EXPECT_FALSE(s.sink.stale().empty()) << "still cached";
  EXPECT_TRUE(s.dma.iovas().is_live(m.iova, k4K)) << "not reusable yet";
  EXPECT_NE(s.dma.dma_map(0x90000000, k4K, kRw).iova, m.iova);
  s.clock.advance(milliseconds(10));
  EXPECT_TRUE(s.dma.poll());
  EXPECT_TRUE(s.sink.stale().empty());
  EXPECT_FALSE(s.dma.iovas().is_live(m.iova, k4K));
  EXPECT_EQ(s.driver.stats().flush_alls, 1u);
}

TEST(Dma, ErrorsAndMisuse) {
  Stack s(config(ref::Invalidation::kLazy, 22), {.dma_bits = 16});
  EXPECT_EQ(s.dma.dma_map(0x80000000, 0, kRw).err, -EINVAL);
  EXPECT_EQ(s.dma.dma_map(0x80000000, k4K, 0).err, -EINVAL) << "prot without READ or WRITE";
  EXPECT_EQ(s.dma.iovas().live_count(), 0u) << "a failed map gives its IOVA back";
  EXPECT_EQ(s.dma.dma_map(0x80000000, 0x10000, kRw).err, -ENOMEM) << "64K does not fit below 64K";
  const DmaMapping m = s.dma.dma_map(0x80000000, k4K, kRw);
  ASSERT_TRUE(m.ok());
  EXPECT_THROW(s.dma.dma_unmap(m.iova + k4K, k4K), std::logic_error);
  EXPECT_THROW(s.dma.dma_unmap(m.iova, k4K, /*cpu=*/1), std::out_of_range);
  EXPECT_EQ(s.domain.iova_to_phys(m.iova), 0x80000000u) << "nothing changed";
  s.dma.dma_unmap(m.iova, k4K);
  EXPECT_THROW(s.dma.dma_unmap(m.iova, k4K), std::logic_error) << "already in the flush queue";
  EXPECT_EQ(s.dma.warnings(), 0u);
}

// ---- the invariant, on random sequences ----

enum class Step { kMap, kUnmap, kAdvance, kPoll };

struct Op {
  Step step;
  uint64_t a;  // map: pages; unmap: which live mapping; advance: ms
  uint64_t b;  // map: paddr page; unmap: cpu
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* kNames[] = {"map", "unmap", "advance", "poll"};
  return os << kNames[static_cast<int>(op.step)] << " " << op.a << " " << op.b;
}

struct Live {
  uint64_t iova, len;
};

// An unmapped range and how many flush_iotlb_all had completed when it was unmapped.
struct Retired {
  uint64_t iova, len, flushes;
};

void run_invariant(const ref::DomainConfig& cfg, const DmaConfig& dcfg, unsigned cpus) {
  Stack s(cfg, dcfg);
  std::vector<Live> live;
  std::vector<Retired> retired;
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::build<Op>(
      rc::gen::set(&Op::step, rc::gen::element(Step::kMap, Step::kMap, Step::kUnmap, Step::kUnmap,
                                                Step::kAdvance, Step::kPoll)),
      rc::gen::set(&Op::a, rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 20),
                                          rc::gen::inRange<uint64_t>(0, 1100))),
      rc::gen::set(&Op::b, rc::gen::inRange<uint64_t>(0, 1u << 16))));
  for (const Op& op : ops) {
    switch (op.step) {
      case Step::kMap: {
        const uint64_t size = (op.a % 40 + 1) * k4K;
        const uint64_t paddr = 0x100000000 + op.b * k4K;
        const DmaMapping m = s.dma.dma_map(paddr, size, kRw);
        if (!m.ok()) {
          RC_ASSERT(m.err == -ENOMEM);
          break;
        }
        // Nothing of a previous mapping may still be cached anywhere in the new range...
        RC_ASSERT_FALSE(s.sink.stale_in(m.iova, m.iova + size - 1));
        // ... because a flush that started after its unmap has completed.
        for (auto it = retired.begin(); it != retired.end();) {
          if (it->iova < m.iova + size && m.iova < it->iova + it->len) {
            RC_ASSERT(s.driver.stats().flush_alls > it->flushes);
            it = retired.erase(it);
          } else {
            ++it;
          }
        }
        for (const Live& l : live) RC_ASSERT(l.iova + l.len <= m.iova || m.iova + size <= l.iova);
        RC_ASSERT(s.domain.iova_to_phys(m.iova) == paddr);
        live.push_back({m.iova, size});
        break;
      }
      case Step::kUnmap: {
        if (live.empty()) break;
        const size_t i = op.a % live.size();
        const Live l = live[i];
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        const uint64_t flushes = s.driver.stats().flush_alls;
        s.dma.dma_unmap(l.iova, l.len, static_cast<unsigned>(op.b % cpus));
        if (s.dma.lazy()) {
          retired.push_back({l.iova, l.len, flushes});
        } else {
          RC_ASSERT_FALSE(s.sink.stale_in(l.iova, l.iova + l.len - 1));
        }
        break;
      }
      case Step::kAdvance: s.clock.advance(milliseconds(op.a)); break;
      case Step::kPoll: s.dma.poll(); break;
    }
    const auto ranges = s.dma.iovas().live();
    for (size_t i = 1; i < ranges.size(); ++i)
      RC_ASSERT(ranges[i - 1].first + ranges[i - 1].second <= ranges[i].first);
  }
  s.dma.flush_queue_now();
  RC_ASSERT(s.dma.iovas().live_count() == live.size());
  RC_ASSERT(s.sink.stale().empty());
  RC_ASSERT(s.dma.warnings() == 0u);
}

// Small rings and a 4 MiB IOVA space so that full rings, timeouts and exhaustion all happen.
RC_GTEST_PROP(DmaInvariant, StrictNeverReusesACachedIova, ()) {
  run_invariant(config(ref::Invalidation::kStrict, 22), {}, 1);
}

RC_GTEST_PROP(DmaInvariant, PerCpuQueuesNeverReuseACachedIova, ()) {
  const unsigned cpus = *rc::gen::inRange(1u, 5u);
  const size_t entries = *rc::gen::element<size_t>(4, 8, 256);
  run_invariant(config(ref::Invalidation::kLazy, 22),
                {.flush_queue = {.style = FlushQueueStyle::kPerCpu, .cpus = cpus, .entries = entries}},
                cpus);
}

RC_GTEST_PROP(DmaInvariant, SingleQueueNeverReusesACachedIova, ()) {
  const size_t entries = *rc::gen::element<size_t>(4, 16, 32768);
  run_invariant(config(ref::Invalidation::kLazy, 22),
                {.flush_queue = {.style = FlushQueueStyle::kSingle, .entries = entries}}, 3);
}

}  // namespace
}  // namespace iommu::impl
