// linux: drivers built from a real kernel tree (IOMMUCHECK_KERNEL_6_12, set by CMake from the
// cache variable of that name or taken from the environment; skipped without it): contract
// campaigns on every variant, a hostile campaign, and shims broken on purpose to show the
// checks bite. docs/LINUX.md.
#include "conform/linux_driver.h"
#include "tests/linux/kernel_trees.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>

#include "conform/baseline.h"
#include "conform/campaign.h"
#include "conform/iommu_choice.h"
#include "conform/linux_build.h"
#include "conform/plugin.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

namespace fs = std::filesystem;


// The known findings of a tree (docs/LINUX.md): its baseline file, as `check --baseline` reads
// it. The sid tree's is the one recorded for 7.2, sid's newest when it was made.
bool known(const std::string& version, const std::string& format, const std::string& signature) {
  const std::string file = version == "6_12" ? "6.12.baseline" : "7.2.baseline";
  const Baseline baseline = Baseline::load(std::string(IOMMUCHECK_BASELINE_DIR) + "/" + file);
  return baseline.find("linux:" + format, signature) != nullptr;
}

constexpr const char* kFormats[] = {"arm-64-lpae-s1-4k", "arm-64-lpae-s1-16k", "arm-64-lpae-s1-64k",
                                    "arm-64-lpae-s2-4k", "arm-64-lpae-s2-16k", "arm-64-lpae-s2-64k",
                                    "arm-32-lpae-s1",    "arm-32-lpae-s2",     "arm-mali-lpae",
                                    "arm-v7s",           "apple-dart",         "apple-dart2"};

class LinuxContract : public testing::TestWithParam<std::tuple<const char*, const char*>> {};

// 20,000 correct calls each. 6.12's arm-64 formats run against an SMMUv3 without range
// invalidation, since their split leaves a cached block behind a range invalidation with a
// level-3 TTL (a known finding, LinuxKnownFindings below); 7.2 refuses partial unmaps and
// runs against the default SMMUv3.
TEST_P(LinuxContract, CampaignFindsNothingUnknown) {
  const std::string version = std::get<0>(GetParam());
  const std::string format = std::get<1>(GetParam());
  REQUIRE_KERNEL_VERSION(dir, version);
  const DriverSource src = linux_driver_source(format, dir);
  CampaignOptions o;
  o.ops = 20000;
  o.isolate = true;
  o.keep_going = true;
  // As `check --baseline` does: a known finding is recorded, not minimized.
  o.known = [&](const std::string& signature) { return known(version, format, signature); };
  if (version == "6_12" && format.starts_with("arm-64")) o.check.iommu = IommuKind::kSmmuV3NoRange;
  const CampaignReport r = run_campaign(src, o);
  EXPECT_GE(r.ops, 20000u);
  for (const Finding& f : r.findings)
    EXPECT_TRUE(known(version, format, f.signature)) << f.signature << ": "
                                                     << f.violation.message();
}

// VERSION_FORMAT with `_` for `-`, e.g. 6_12_arm_64_lpae_s1_4k.
std::string contract_name(const testing::TestParamInfo<LinuxContract::ParamType>& p) {
  std::string n = std::string(std::get<0>(p.param)) + "_" + std::get<1>(p.param);
  for (char& c : n) c = c == '-' ? '_' : c;
  return n;
}

INSTANTIATE_TEST_SUITE_P(Linux, LinuxContract,
                         testing::Combine(testing::Values("6_12", "SID"),
                                          testing::ValuesIn(kFormats)),
                         contract_name);

// Coherent walks, where only barriers publish PTE stores (docs/LINUX.md): the -coherent twin
// of every format but DART's (which walks coherently in Linux/ already).
constexpr const char* kCoherentFormats[] = {
    "arm-64-lpae-s1-4k-coherent", "arm-64-lpae-s1-16k-coherent", "arm-64-lpae-s1-64k-coherent",
    "arm-64-lpae-s2-4k-coherent", "arm-64-lpae-s2-16k-coherent", "arm-64-lpae-s2-64k-coherent",
    "arm-32-lpae-s1-coherent",    "arm-32-lpae-s2-coherent",     "arm-mali-lpae-coherent",
    "arm-v7s-coherent"};

INSTANTIATE_TEST_SUITE_P(LinuxCoherent, LinuxContract,
                         testing::Combine(testing::Values("6_12", "SID"),
                                          testing::ValuesIn(kCoherentFormats)),
                         contract_name);

// The partial-unmap policy comes from the tree's behaviour: 6.12 splits, 7.2 refuses.
TEST(LinuxProbe, PolicyFollowsTheTree) {
  REQUIRE_KERNEL(dir612);
  EXPECT_EQ(linux_driver_source("arm-64-lpae-s1-4k", dir612).info.config.partial_unmap,
            ref::PartialUnmap::kSplit);
  EXPECT_EQ(linux_driver_source("arm-v7s", dir612).info.config.partial_unmap,
            ref::PartialUnmap::kSplit);
  REQUIRE_KERNEL_VERSION(dir72, "SID");
  EXPECT_EQ(linux_driver_source("arm-64-lpae-s1-4k", dir72).info.config.partial_unmap,
            ref::PartialUnmap::kRefuse);
  EXPECT_EQ(linux_driver_source("arm-v7s", dir72).info.config.partial_unmap,
            ref::PartialUnmap::kRefuse);
}

std::optional<Violation> replay_text(const DriverSource& src, const std::string& ops_text,
                                     std::vector<StepResult>* steps = nullptr,
                                     std::optional<IommuKind> iommu = {}) {
  const Trace t = parse_trace(ops_text);
  CheckOptions check;
  check.iommu = iommu;
  return replay_ops(src, t.ops, check, [&](size_t, const Op&, const StepResult& s) {
    if (steps) steps->push_back(s);
  });
}

// 6.12 splits a 1G block on a partial unmap and invalidates only the 4K it removed, with a
// level-3 TTL hint: an SMMUv3 keeps the cached block (io-pgtable-arm.c, arm_lpae_split_blk_unmap).
TEST(LinuxKnownFindings, SplitLeavesCachedBlockBehindTtlInvalidation) {
  REQUIRE_KERNEL(dir);
  const auto v = replay_text(linux_driver_source("arm-64-lpae-s1-4k", dir),
                             "map iova=0x40000000 paddr=0x80000000 size=1G prot=rw\n"
                             "read iova=0x40001000\n"
                             "unmap iova=0x40001000 size=4K\n",
                             nullptr, IommuKind::kSmmuV3);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->check, "stale") << v->message();
}

// 6.12's v7s split builds the level-2 entries from the section's prot alone: the output
// address is lost (io-pgtable-arm-v7s.c, arm_v7s_split_blk_unmap).
TEST(LinuxKnownFindings, V7sSplitLosesOutputAddress) {
  REQUIRE_KERNEL(dir);
  const auto v = replay_text(linux_driver_source("arm-v7s", dir),
                             "map iova=0xfc000000 paddr=0x8d000000 size=1M prot=rw\n"
                             "unmap_pages iova=0xfc040000 pgsize=4K pgcount=1\n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->check, "translation") << v->message();
}

// 6.12's v7s splits a supersection into sections and then splits the section, but
// arm_v7s_split_cont returns the first section's entry, not the one at the iova: the install's
// compare-and-swap fails and unmap returns 0 (io-pgtable-arm-v7s.c, __arm_v7s_unmap).
TEST(LinuxKnownFindings, V7sSupersectionSplitReturnsZero) {
  REQUIRE_KERNEL(dir);
  const auto v = replay_text(linux_driver_source("arm-v7s", dir),
                             "map iova=0x42000000 paddr=0xf6000000 size=16M prot=rw\n"
                             "unmap iova=0x4274b000 size=4K\n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->check, "driver-call") << v->message();
}

// 6.12's arm_v7s_unmap_pages never checks pgsize: a 2K unmap inside a section reaches
// arm_v7s_split_blk_unmap with num_entries = 0, whose loop `i += num_entries` never ends
// (io-pgtable-arm-v7s.c:642). Isolated, it is a timeout finding.
TEST(LinuxKnownFindings, V7sSubPageUnmapNeverReturns) {
  REQUIRE_KERNEL(dir);
  const Trace t = parse_trace(
      "map iova=0x100000 paddr=0x80000000 size=1M prot=rw\n"
      "unmap_pages iova=0x100000 pgsize=0x800 pgcount=1\n");
  const auto v = replay_isolated(linux_driver_source("arm-v7s", dir), t.ops, CheckOptions{},
                                 IsolationOptions{.call_timeout = 1});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->check, "timeout") << v->message();
  EXPECT_EQ(v->op_index, 1u) << v->message();
}

// Misuse makes Linux WARN; the campaign tolerates a WARN on misuse and runs its full time.
TEST(LinuxHostile, RunsItsTimeThroughWarnsOnMisuse) {
  REQUIRE_KERNEL(dir);
  CampaignOptions o;
  o.seconds = 5;
  o.mode = CallerMode::kHostile;
  o.isolate = true;
  o.keep_going = true;
  o.check.iommu = IommuKind::kSmmuV3NoRange;
  const CampaignReport r = run_campaign(linux_driver_source("arm-64-lpae-s1-4k", dir), o);
  EXPECT_GE(r.seconds, 4.5);
  EXPECT_GT(r.ops, 1000u);
  for (const Finding& f : r.findings) EXPECT_NE(f.violation.check, "warn") << f.violation.message();
}

// Linux's WARN arrives with the kernel's own file and line: mapping over a mapping is misuse,
// which 6.12 WARNs about (io-pgtable-arm.c, arm_lpae_init_pte) and the checker tolerates.
TEST(LinuxWarn, CarriesTheKernelsFileAndLine) {
  REQUIRE_KERNEL(dir);
  std::vector<StepResult> steps;
  const auto v = replay_text(linux_driver_source("arm-64-lpae-s1-4k", dir),
                             "map iova=0x40000000 paddr=0x80000000 size=4K prot=rw\n"
                             "map iova=0x40000000 paddr=0x90000000 size=4K prot=rw\n",
                             &steps);
  EXPECT_FALSE(v.has_value()) << v->message();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1].driver, -EEXIST);
  ASSERT_EQ(steps[1].tolerated_warnings.size(), 1u);
  EXPECT_THAT(steps[1].tolerated_warnings[0],
              testing::MatchesRegex("drivers/iommu/io-pgtable-arm\\.c:[0-9]+: WARN_ON\\(.*\\)"));
}

// Page tables of one linux: driver used from several threads at once, each its own, in
// process (a format without known findings: a minimization could reach misuse that hangs).
TEST(LinuxThreads, PageTablesRunConcurrently) {
  REQUIRE_KERNEL(dir);
  const DriverSource src = linux_driver_source("arm-32-lpae-s1", dir);
  CampaignOptions o;
  o.ops = 4000;
  std::vector<CampaignReport> reports(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reports.size(); i++)
    threads.emplace_back([&, i] {
      CampaignOptions mine = o;
      mine.seed = 100 + i;
      reports[i] = run_campaign(src, mine);
    });
  for (auto& t : threads) t.join();
  for (const CampaignReport& r : reports) {
    EXPECT_GE(r.ops, 4000u);
    for (const Finding& f : r.findings) ADD_FAILURE() << f.violation.message();
  }
}

// An allocation failure reaches Linux's -ENOMEM path (map returns -ENOMEM, nothing leaks, no
// verdict against it).
TEST(LinuxAllocFailure, ReachesEnomemWithoutVerdict) {
  REQUIRE_KERNEL(dir);
  std::vector<StepResult> steps;
  const auto v = replay_text(linux_driver_source("arm-64-lpae-s1-4k", dir),
                             "fail_alloc nth=2\n"
                             "map iova=0x40000000 paddr=0x80000000 size=4K prot=rw\n"
                             "map iova=0x40000000 paddr=0x80000000 size=4K prot=rw\n"
                             "read iova=0x40000000\n",
                             &steps);
  EXPECT_FALSE(v.has_value()) << v->message();
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps[1].driver, -ENOMEM);
  EXPECT_EQ(steps[2].driver, 0);
}

// A shim built to lose one dma sync (the 4th: the leaf PTE of the first 4K map, after the
// three table installs) must be caught by the hardware walk.
TEST(LinuxBrokenShim, LostSyncIsCaught) {
  REQUIRE_KERNEL(dir);
  LinuxBuildOptions b;
  b.extra_cflags = {"-DLXSHIM_BROKEN_DROP_SYNC=4"};
  b.cache_dir = fs::path(testing::TempDir()) / "iommucheck-broken-shim";
  const LinuxBuild build = build_linux_drivers(dir, b);
  auto plugin = std::make_shared<const Plugin>(build.plugins.at("arm-64-lpae-s1-4k").string());
  const DriverSource src{plugin->info(), [plugin](DriverEnv& env) { return plugin->create(env); }};
  const auto v = replay_text(src,
                             "map iova=0x40000000 paddr=0x80000000 size=4K prot=rw\n"
                             "read iova=0x40000000\n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->op_index, 0u) << v->message();
}

// A build is found again by the content of its inputs; other flags are another build.
TEST(LinuxBuild, CachedByContent) {
  REQUIRE_KERNEL(dir);
  const LinuxBuild first = build_linux_drivers(dir);
  const LinuxBuild again = build_linux_drivers(dir);
  EXPECT_EQ(first.dir, again.dir);
  EXPECT_TRUE(fs::is_regular_file(first.dir / "complete"));
  EXPECT_GE(first.plugins.size(), 22u);  // 12 formats, 10 also -coherent, quirk variants
  EXPECT_EQ(first.plugins.size() + first.unavailable.size(), first.variants.size());
  LinuxBuildOptions other;
  other.extra_cflags = {"-DLXSHIM_BROKEN_DROP_SYNC=4"};
  other.cache_dir = first.dir.parent_path().parent_path();
  EXPECT_NE(build_linux_drivers(dir, other).dir, first.dir);
}

TEST(LinuxBuild, CompileErrorNamesTheFileAndCompilerMessage) {
  REQUIRE_KERNEL(dir);
  const fs::path tree = fs::path(testing::TempDir()) / "iommucheck-bad-tree";
  fs::remove_all(tree);
  for (const std::string& rel : linux_source_files(dir)) {
    fs::create_directories((tree / rel).parent_path());
    fs::copy_file(fs::path(dir) / rel, tree / rel);
  }
  std::ofstream(tree / "drivers/iommu/io-pgtable-dart.c", std::ios::app) << "int broken = ;\n";
  LinuxBuildOptions b;
  b.cache_dir = fs::path(testing::TempDir()) / "iommucheck-bad-cache";
  // The build's steps as the CLI's progress line sees them, up to the one that fails.
  std::vector<LinuxBuildStep> steps;
  set_linux_build_observer([&](const LinuxBuildStep& s) { steps.push_back(s); });
  try {
    build_linux_drivers(tree, b);
    set_linux_build_observer({});
    FAIL() << "a tree that does not compile was built";
  } catch (const LinuxBuildError& e) {
    set_linux_build_observer({});
    ASSERT_EQ(steps.size(), 4u);  // io-pgtable.c, -arm.c, -arm-v7s.c, then -dart.c failed
    for (size_t i = 0; i < steps.size(); i++) {
      EXPECT_EQ(steps[i].done, i);
      EXPECT_GT(steps[i].total, 11u);  // 4 kernel files, 7 shim files, 2 per variant
      EXPECT_EQ(steps[i].tree, tree.string());
    }
    EXPECT_EQ(steps.back().what, "compiling drivers/iommu/io-pgtable-dart.c");
    EXPECT_NE(std::string(e.what()).find("compiling drivers/iommu/io-pgtable-dart.c failed"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("error: expected expression"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace iommu::conform
