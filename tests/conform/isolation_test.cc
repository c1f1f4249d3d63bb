// Drivers that crash, exit, hang or fail, run in a child process (conform/isolation.h): each
// is a finding at the op that was running, or a clear error, never the end of the checker.
#include "conform/isolation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "conform/campaign.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

// Under ASan a plugin's SIGSEGV is ASan's report and exit, not a signal. gcc says ASan is on
// with __SANITIZE_ADDRESS__, clang (the fuzz presets) with __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define IOMMUCHECK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOMMUCHECK_UNDER_ASAN 1
#endif
#endif

#ifdef IOMMUCHECK_UNDER_ASAN
#define SKIP_UNDER_ASAN() GTEST_SKIP() << "a SIGSEGV is ASan's report under ASan"
#else
#define SKIP_UNDER_ASAN() (void)0
#endif

DriverSource faulty(const std::string& fault) {
  return resolve_driver("plugin:" + std::string(IOMMUCHECK_PLUGIN_DIR) + "/faulty_plugin_" + fault +
                        ".so");
}

// map_pages is called with pgcount 3 by the second op: the faulty plugins fault there.
const std::vector<Op> kOps = {
    MapOp{.iova = 0x100000, .paddr = 0x800000, .size = 0x1000, .prot = 3},
    MapOp{.iova = 0x200000, .paddr = 0x900000, .size = 0x3000, .prot = 3},
    UnmapOp{.iova = 0x100000, .size = 0x1000},
};

std::optional<Violation> replay(const DriverSource& src, double timeout = 5) {
  return replay_isolated(src, kOps, {}, {.call_timeout = timeout});
}

void expect_death(const std::string& fault, const std::string& check, const std::string& what) {
  SCOPED_TRACE(fault);
  const auto v = replay(faulty(fault));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, check);
  EXPECT_EQ(v->op_index, 1u);
  EXPECT_EQ(v->op, format_op(kOps[1]));
  EXPECT_NE(v->detail.find(what), std::string::npos) << v->detail;
  EXPECT_NE(v->detail.find("map_pages()"), std::string::npos) << v->detail;
}

TEST(Isolation, ACrashIsAFindingNamingItsSignal) {
  SKIP_UNDER_ASAN();
  expect_death("segv", "crash", "SIGSEGV");
  expect_death("abort", "crash", "SIGABRT");
}

TEST(Isolation, AnExitIsAFindingEvenWithStatusZero) {
  expect_death("exit0", "exit", "status 0");
  expect_death("exit1", "exit", "status 1");
}

TEST(Isolation, AHangIsATimeoutWithinTheCallTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto v = replay(faulty("loop"), 0.2);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "timeout");
  EXPECT_EQ(v->op_index, 1u);
  EXPECT_LT(took, 3.0);
}

TEST(Isolation, ACleanDriverReplaysCleanAndItsViolationsComeBack) {
  const DriverSource good =
      resolve_driver("plugin:" + std::string(IOMMUCHECK_PLUGIN_DIR) + "/example_plugin.so");
  EXPECT_FALSE(replay(good));
  const DriverSource bug = resolve_driver("plugin:" + std::string(IOMMUCHECK_PLUGIN_DIR) +
                                          "/example_plugin_seeded_bug.so");
  const std::vector<Op> ops = {
      MapOp{.iova = 0x200000, .paddr = 0x800000, .size = 0x4000, .prot = 3},
      UnmapOp{.iova = 0x200000, .size = 0x4000}};
  const auto isolated = replay_isolated(bug, ops, {}, {});
  const auto in_process = replay_ops(bug, ops);
  ASSERT_TRUE(isolated);
  ASSERT_TRUE(in_process);
  EXPECT_EQ(isolated->message(), in_process->message());
}

TEST(Isolation, ACreateThatFailsIsAnErrorNamingThePlugin) {
  try {
    replay(faulty("create"));
    FAIL() << "no error";
  } catch (const IsolationError& e) {
    EXPECT_NE(std::string(e.what()).find("create() failed with -12 (ENOMEM)"), std::string::npos)
        << e.what();
  }
}

TEST(Isolation, AnAbsurdRootCountIsAFinding) {
  const auto v = replay(faulty("roots"));
  ASSERT_TRUE(v);
  EXPECT_NE(v->detail.find("roots() returned 18446744073709551615"), std::string::npos)
      << v->detail;
}

// Until campaigns inject allocation failures themselves, every allocation after the root
// fails here, so the second op's first table allocation takes the plugin's -ENOMEM path.
TEST(Isolation, ACrashOnTheEnomemPathIsFound) {
  SKIP_UNDER_ASAN();
  DriverSource src = faulty("enomem");
  src.create = [inner = src.create](DriverEnv& env) {
    auto d = inner(env);
    env.memory.set_failure_hook([](uint64_t, uint64_t) { return true; });
    return d;
  };
  const auto v = replay(src);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "crash");
  EXPECT_EQ(v->op_index, 0u);
}

TEST(Isolation, ACampaignRecordsTheOpsUpToTheCrashAndMinimizesThem) {
  SKIP_UNDER_ASAN();
  const CampaignReport r =
      run_campaign(faulty("segv"), {.seed = 1, .ops = 4000, .isolate = true, .call_timeout = 1});
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings.front();
  EXPECT_EQ(f.violation.check, "crash");
  EXPECT_EQ(f.original_ops, f.violation.op_index + 1);
  EXPECT_EQ(f.ops.size(), 1u);
  EXPECT_EQ(f.minimized.check, "crash");
  EXPECT_TRUE(f.cut_short.empty());
  const auto again = replay_isolated(faulty("segv"), f.ops, {}, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->check, "crash");
}

// Each hanging candidate of the minimization costs a call timeout; unbounded, this one takes
// about 2 s.
TEST(Isolation, TheTimeLimitBoundsTheMinimizationOfAHang) {
  const auto start = std::chrono::steady_clock::now();
  const CampaignReport r = run_campaign(
      faulty("loop"), {.seed = 1, .seconds = 0.5, .isolate = true, .call_timeout = 0.3});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings.front().violation.check, "timeout");
  EXPECT_EQ(r.findings.front().cut_short, "the time limit");
  EXPECT_LT(took, 1.5);
  EXPECT_GT(r.seconds - r.checking_seconds, 0.1);  // the minimization is not checking time
}

}  // namespace
}  // namespace iommu::conform
