// The DMA checker (conform/dma_checker.h): the lazy window on hand-written traces, each rule
// against the seeded bug it exists for, hostile calls, campaigns, and the trace text form.
#include "conform/dma_checker.h"

#include <gtest/gtest.h>

#include "conform/trace.h"
#include "impl/mutant.h"

namespace iommu::conform {
namespace {

using impl::Mutant;

DmaTrace trace(const std::string& settings, const std::string& ops, Mutant bug = Mutant::kNone) {
  DmaTrace t = parse_dma_trace("driver dma:arm-64-lpae-s1-4k\n" + settings + "\n" + ops, "test");
  t.scenario.bug = bug;
  return t;
}

// Runs every op, returning the outcome lines; the first violation stops it.
struct Outcomes {
  std::vector<std::string> outcomes;
  std::optional<DmaViolation> violation;
  size_t failed_at = 0;  // 1-based; 0: none, or teardown
  uint64_t stale_hits = 0;
};

Outcomes run(const DmaTrace& t) {
  Outcomes r;
  const DmaRunResult res =
      run_dma_trace(t, [&](size_t, const std::string& o) { r.outcomes.push_back(o); });
  r.violation = res.violation;
  r.failed_at = res.failing_op ? *res.failing_op + 1 : 0;
  r.stale_hits = res.stale_hits;
  return r;
}

constexpr const char* kPerCpu = "mode per-cpu\ncpus 2\nfq-entries 8\nfq-timeout-ms 10";
constexpr const char* kWindow =
    "map m0 paddr 0x40000000 size 0x1000 prot rw\n"
    "read m0 +0x10\n"
    "unmap m0 cpu 1\n"
    "read m0 +0x10\n"  // 4: stale, allowed: no flush yet
    "tick 9\npoll\n"
    "read m0 +0x10\n"  // 7: the timer is not due: still allowed
    "tick 1\npoll\n"
    "read m0 +0x10\n";  // 10: the timer fired: must fault

TEST(DmaChecker, TheLazyWindowAllowsAStaleAccessUntilTheFlush) {
  const Outcomes r = run(trace(kPerCpu, kWindow));
  ASSERT_FALSE(r.violation) << r.violation->message();
  // The allowed accesses really went through the stale translation...
  EXPECT_EQ(r.outcomes[3], "paddr 0x40000010 (from iotlb)");
  EXPECT_EQ(r.outcomes[6], "paddr 0x40000010 (from iotlb)");
  EXPECT_EQ(r.stale_hits, 2u);
  // ... and the late one faulted.
  EXPECT_EQ(r.outcomes[8], "the timer fired");
  EXPECT_TRUE(r.outcomes[9].starts_with("fault")) << r.outcomes[9];
}

TEST(DmaChecker, TheLazyWindowRefusesTheAccessAfterTheTimer) {
  const Outcomes r = run(trace(kPerCpu, kWindow, Mutant::kDmaTimerNeverFires));
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->rule, "stale-after-timer");
  EXPECT_EQ(r.failed_at, 10u);
}

// Four slots hold three entries: the fourth unmap flushes first, covering the three before it.
constexpr const char* kFullQueue =
    "map m0 paddr 0x40000000 size 0x1000 prot rw\nmap m1 paddr 0x40001000 size 0x1000 prot rw\n"
    "map m2 paddr 0x40002000 size 0x1000 prot rw\nmap m3 paddr 0x40003000 size 0x1000 prot rw\n"
    "unmap m0 cpu 0\nunmap m1 cpu 0\nunmap m2 cpu 0\n"
    "read m0 +0x0\n"  // 8: stale, allowed
    "unmap m3 cpu 0\n"
    "read m0 +0x0\n";  // 10: the full queue flushed: must fault

TEST(DmaChecker, AFullQueueFlushEndsTheWindow) {
  const Outcomes r = run(trace("mode per-cpu\nfq-entries 4", kFullQueue));
  ASSERT_FALSE(r.violation) << r.violation->message();
  EXPECT_EQ(r.outcomes[7], "paddr 0x40000000 (from iotlb)");
  EXPECT_TRUE(r.outcomes[9].starts_with("fault")) << r.outcomes[9];
}

TEST(DmaChecker, AQueueThatForgetsAnEntryIsCaught) {
  const Outcomes r = run(trace("mode per-cpu\nfq-entries 4", kFullQueue, Mutant::kDmaQueueForgets));
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->rule, "queue-bound");
  EXPECT_EQ(r.failed_at, 9u);
}

TEST(DmaChecker, ADrainEndsTheWindow) {
  const Outcomes r = run(trace("mode single",
                               "map m0 paddr 0x40000000 size 0x1000 prot rw\nread m0 +0x0\n"
                               "unmap m0 cpu 3\nread m0 +0x0\ndrain\nread m0 +0x0\n"));
  ASSERT_FALSE(r.violation) << r.violation->message();
  EXPECT_EQ(r.stale_hits, 1u);
  EXPECT_TRUE(r.outcomes[5].starts_with("fault")) << r.outcomes[5];
}

constexpr const char* kStrict =
    "map m0 paddr 0x40000000 size 0x1000 prot rw\nread m0 +0x0\nunmap m0 cpu 0\n";

TEST(DmaChecker, AStrictUnmapEndsTheTranslationWhenItReturns) {
  EXPECT_FALSE(run(trace("mode strict", kStrict)).violation);
  const Outcomes r = run(trace("mode strict", kStrict, Mutant::kDmaStrictNoSync));
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->rule, "strict-unmap");
  EXPECT_EQ(r.failed_at, 3u);
}

// m0's range stays held while it waits for a flush, so m2 must get another IOVA.
constexpr const char* kReuse =
    "map m0 paddr 0x40000000 size 0x1000 prot rw\nunmap m0 cpu 0\n"
    "map m1 paddr 0x40001000 size 0x1000 prot rw\nunmap m1 cpu 0\n"
    "map m2 paddr 0x40002000 size 0x1000 prot rw\n";

TEST(DmaChecker, NoIovaIsHandedOutAgainBeforeItsFlush) {
  EXPECT_FALSE(run(trace(kPerCpu, kReuse)).violation);
  const Outcomes r = run(trace(kPerCpu, kReuse, Mutant::kDmaFreeUnflushed));
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->rule, "reuse-before-flush");
  EXPECT_EQ(r.failed_at, 5u);
}

// The page-table zoo's writable-read-only leaf, seen from a device behind the DMA layer.
TEST(DmaChecker, AWriteThroughAReadOnlyMappingIsCaught) {
  constexpr const char* kWrite = "map m0 paddr 0x40000000 size 0x1000 prot r\nwrite m0 +0x8\n";
  EXPECT_FALSE(run(trace("mode strict", kWrite)).violation);
  const Outcomes r = run(trace("mode strict", kWrite, Mutant::kWritableReadOnly));
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->rule, "prot");
  EXPECT_EQ(r.failed_at, 2u);
}

TEST(DmaChecker, HostileCallsAreRefusedAndChangeNothing) {
  const Outcomes r = run(trace("mode per-cpu\ncpus 2\ncaller hostile",
                               "map m0 paddr 0x40000000 size 0x1800 prot rw\n"
                               "unmap m0 size 0x3000 cpu 0\n"           // a wrong size
                               "unmap m0 cpu 2\n"                       // a CPU that does not exist
                               "unmap-iova 0x1000 size 0x1000 cpu 0\n"  // never mapped
                               "read m0 +0x17ff\n"
                               "unmap m0 size 0x1900 cpu 1\n"  // rounds to the size mapped
                               "unmap m0 cpu 1\n"              // twice
                               "map m1 paddr 0x1000 size 0x0 prot r\n"));
  ASSERT_FALSE(r.violation) << r.violation->message();
  for (size_t i : {1, 2, 3, 6}) EXPECT_TRUE(r.outcomes[i].starts_with("refused")) << r.outcomes[i];
  EXPECT_EQ(r.outcomes[4], "paddr 0x400017ff (from iotlb)");
  EXPECT_EQ(r.outcomes[5], "unmapped");
  EXPECT_EQ(r.outcomes[7], "errno -22");
}

// Found by fuzz_dma: a buffer beyond the format's 32-bit oas is the page table's -ERANGE.
TEST(DmaChecker, ABufferBeyondTheOasIsErange) {
  const Outcomes r = run(parse_dma_trace(
      "driver dma:arm-v7s\ndma-bits 20\ncaller hostile\n"
      "map m0 paddr 0xffffffff size 0x3ffd5 prot r\nmap m1 paddr 0xfff00000 size 0x1000 prot r\n",
      "test"));
  ASSERT_FALSE(r.violation) << r.violation->message();
  EXPECT_EQ(r.outcomes[0], "errno -34");
  EXPECT_TRUE(r.outcomes[1].starts_with("iova")) << r.outcomes[1];
}

TEST(DmaChecker, CampaignsPassInEveryModeAndReachTheWindow) {
  for (DmaMode mode : {DmaMode::kStrict, DmaMode::kPerCpu, DmaMode::kSingle}) {
    for (CallerMode caller : {CallerMode::kContract, CallerMode::kHostile}) {
      uint64_t stale = 0;
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        const DmaScenario s = dma_scenario("arm-64-lpae-s1-4k", mode, caller, seed);
        const DmaRunResult r = run_dma_trace(generate_dma_trace(s, seed, 800));
        ASSERT_FALSE(r.violation) << dma_mode_name(mode) << " seed " << seed << ": "
                                  << r.violation->message();
        stale += r.stale_hits;
      }
      if (mode != DmaMode::kStrict) {
        EXPECT_GT(stale, 0u) << dma_mode_name(mode);
      }
    }
  }
}

TEST(DmaTrace, TheTextFormRoundTrips) {
  DmaTrace t = generate_dma_trace(
      dma_scenario("arm-v7s", DmaMode::kPerCpu, CallerMode::kHostile, 7), 7, 300);
  t.comment = "a comment\nof two lines";
  const std::string text = format_dma_trace(t);
  EXPECT_TRUE(is_dma_trace(text));
  EXPECT_EQ(format_dma_trace(parse_dma_trace(text, "t")), text);
}

TEST(DmaTrace, ErrorsNameTheLine) {
  auto error = [](const std::string& text) {
    try {
      parse_dma_trace(text, "f.trace");
    } catch (const TraceError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("driver dma:arm-v7s\nfrobnicate\n").find("2: unknown operation 'frobnicate'"),
            std::string::npos);
  EXPECT_NE(error("driver dma:arm-v7s\nmap x1 paddr 0 size 1 prot r\n").find("mapping label"),
            std::string::npos);
  EXPECT_NE(error("driver dma:arm-v7s\nmode lazy\n").find("strict, per-cpu or single"),
            std::string::npos);
  EXPECT_NE(error("poll\n").find("no `driver dma:FORMAT` line"), std::string::npos);
  EXPECT_FALSE(is_dma_trace("driver impl:arm-v7s\n"));
}

TEST(DmaChecker, AnUnknownFormatIsADriverError) {
  DmaScenario s;
  s.format = "nonexistent-format";
  EXPECT_THROW(DmaChecker{s}, std::runtime_error);
}

}  // namespace
}  // namespace iommu::conform
