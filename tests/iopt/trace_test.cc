// The iopt trace dialect (conform/iopt_trace.h): campaigns print and parse back unchanged, a
// mutant's minimized finding written to a file replays to the same violation, and a bad line
// is named with its file and line number.
#include "conform/trace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "conform/impl_driver.h"
#include "conform/iopt_checker.h"
#include "conform/iopt_trace.h"

namespace iommu::iopt {
// gtest prints a Mutant parameter by its name (found by argument-dependent lookup).
void PrintTo(Mutant m, std::ostream* os) { *os << mutant_name(m); }
}  // namespace iommu::iopt

namespace iommu::iopt::testing {
namespace {

using conform::IoptOp;
using conform::IoptTrace;

TEST(IoptTrace, CampaignsPrintAndParseBackUnchanged) {
  for (auto mode : {conform::CallerMode::kContract, conform::CallerMode::kHostile}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      conform::IoptScenario s;
      s.layout = UserMemory::scattered_layout(128, 5, seed);
      s.config.batch_runs = 2;
      s.config.pin_chunk = 7;
      IoptTrace t = conform::iopt_trace_of(s, conform::iopt_campaign(seed, 200, s, mode).trace);
      t.driver = "iopt:arm-64-lpae-s1-4k";
      t.seed = seed;
      const std::string text = conform::format_iopt_trace(t, "a comment\nof two lines");
      const IoptTrace back = conform::parse_iopt_trace(text);
      EXPECT_EQ(back, t) << text;
      EXPECT_EQ(conform::format_iopt_trace(back, "a comment\nof two lines"), text);
    }
  }
}

TEST(IoptTrace, ReplayingACampaignsTraceRunsTheSameOperations) {
  conform::IoptScenario s;
  s.layout = UserMemory::scattered_layout(128, 4, 9);
  const conform::IoptCampaignResult r =
      conform::iopt_campaign(9, 300, s, conform::CallerMode::kHostile);
  ASSERT_TRUE(r.violations.empty());
  // Replays are deterministic: the same errnos on both sides every time.
  std::vector<std::pair<int, int>> first, second;
  for (auto* seen : {&first, &second}) {
    const conform::IoptReplay replay = conform::replay_iopt(
        s, r.trace,
        [&](size_t, const IoptOp&, int want, int got) { seen->emplace_back(want, got); });
    EXPECT_TRUE(replay.violations.empty());
    EXPECT_EQ(replay.ops, r.trace.size());
  }
  EXPECT_EQ(first, second);
}

class IoptFindingTrace : public ::testing::TestWithParam<Mutant> {};

// What `mutants --driver-source iopt --out` and `check --driver iopt:` do with a finding:
// minimize, write as a trace file, and `replay` reads and re-runs it.
TEST_P(IoptFindingTrace, ReplaysToTheSameViolation) {
  std::pair<conform::IoptScenario, conform::IoptFinding> found;
  const conform::MutantKill k = conform::iopt_mutant_kill(GetParam(), 20, 1, &found);
  ASSERT_TRUE(k.killed);
  const conform::IoptFinding& f = found.second;
  EXPECT_LT(f.ops.size(), k.ops) << "not minimized";
  IoptTrace t = conform::iopt_trace_of(found.first, f.ops);
  t.driver = "iopt:arm-64-lpae-s1-4k";
  const std::string dir = ::testing::TempDir() + "/iopt_trace_test";
  std::filesystem::create_directories(dir);
  const std::string path =
      conform::create_trace_file(dir, std::string(mutant_name(GetParam())),
                                 [&](const std::string&) { return conform::format_iopt_trace(t); });
  ASSERT_TRUE(conform::is_iopt_trace_file(path));
  const IoptTrace read = conform::read_iopt_trace_file(path);
  std::filesystem::remove(path);
  const auto source = conform::impl_driver_source("arm-64-lpae-s1-4k");
  const conform::IoptReplay r =
      conform::replay_iopt(conform::iopt_scenario_of(read, source), read.ops);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_EQ(r.violations.front(), f.violation);
  EXPECT_EQ(r.ops, read.ops.size()) << "the violation is at the last op";
  // Without the seeded bug the same operations break nothing.
  IoptTrace clean = read;
  clean.mutant = Mutant::kNone;
  EXPECT_TRUE(
      conform::replay_iopt(conform::iopt_scenario_of(clean, source), clean.ops).violations.empty());
}

INSTANTIATE_TEST_SUITE_P(Zoo, IoptFindingTrace, ::testing::ValuesIn(kAllMutants),
                         [](const ::testing::TestParamInfo<Mutant>& p) {
                           std::string n(mutant_name(p.param));
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

struct BadLine {
  std::string line;    // the third line, after a driver and a domains directive
  std::string reason;  // what the error must say after "bad.trace:3: "
};

void PrintTo(const BadLine& b, std::ostream* os) { *os << b.line; }

class IoptTraceError : public ::testing::TestWithParam<BadLine> {};

TEST_P(IoptTraceError, NamesTheFileAndLine) {
  const std::string text = "driver iopt:arm-v7s\ndomains 2\n" + GetParam().line + "\n";
  try {
    conform::parse_iopt_trace(text, "bad.trace");
    FAIL() << "parsed: " << GetParam().line;
  } catch (const conform::TraceError& e) {
    EXPECT_EQ(std::string(e.what()), "bad.trace:3: " + GetParam().reason);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lines, IoptTraceError,
    ::testing::Values(
        BadLine{"map iova=0x1000",
                "unknown op 'map' (ops: map_user copy unmap attach detach "
                "add_access remove_access read write teardown; directives, "
                "before the ops: driver domains layout config mutant seed)"},
        BadLine{"attach domain=2", "attach: domain: '2' is out of range (0 to 1)"},
        BadLine{"unmap iova=0x1000", "unmap: missing key 'length'"},
        BadLine{"unmap iova=0x1000 length=4K iova=0", "unmap: duplicate key 'iova'"},
        BadLine{"detach domain=0 gather=1", "detach: unknown key 'gather' (keys: domain fail)"},
        BadLine{"read id=1 offset=0 length=2M",
                "read: length: '2M' is out of range (0 to 1048576)"},
        BadLine{"copy dst=0x1000 src=0x2000 length=0x1000 prot=rw", "copy: prot: bad number 'rw'"},
        BadLine{"layout 0x10+4,0x12+1", "layout: the runs at PFN 0x10 and 0x12 overlap"},
        BadLine{"layout 0+4", "layout: '0+4': PFN 0 is never used"},
        BadLine{"mutant iopt-pin-thrice",
                "mutant: unknown mutant 'iopt-pin-thrice' (mutants: iopt-pin-twice "
                "iopt-unfilled-attach iopt-leak-pin-on-error iopt-unpin-across-access "
                "iopt-map-per-page iopt-keep-xarray)"},
        BadLine{"driver iopt:arm-v7s", "duplicate directive 'driver'"},
        BadLine{"config batch_runs=0", "config: batch_runs: '0' is out of range (1 to 65536)"}),
    [](const ::testing::TestParamInfo<BadLine>& p) { return std::to_string(p.index); });

TEST(IoptTrace, TheLastBadLineIsNamedByItsNumber) {
  try {
    conform::parse_iopt_trace("driver iopt:arm-v7s\nteardown\nseed 1\n", "t");
    FAIL();
  } catch (const conform::TraceError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.reason(), "directive 'seed' after the first op (directives go before the ops)");
  }
}

TEST(IoptTrace, OnlyAnIoptDriverMakesAnIoptTrace) {
  EXPECT_THROW(conform::parse_iopt_trace("driver impl:arm-v7s\n"), conform::TraceError);
}

}  // namespace
}  // namespace iommu::iopt::testing
