// linux: drivers built from a real kernel tree (IOMMUCHECK_KERNEL_6_12, set by CMake from the
// cache variable of that name or taken from the environment; skipped without it): contract
// campaigns on every variant, a hostile campaign, and shims broken on purpose to show the
// checks bite. docs/LINUX.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "conform/campaign.h"
#include "conform/iommu_choice.h"
#include "conform/linux_build.h"
#include "conform/linux_driver.h"
#include "conform/plugin.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

namespace fs = std::filesystem;

std::string kernel_6_12() {
  if (const char* env = std::getenv("IOMMUCHECK_KERNEL_6_12"); env && *env) return env;
  return IOMMUCHECK_KERNEL_6_12;
}

#define REQUIRE_KERNEL(dir)                                                                 \
  const std::string dir = kernel_6_12();                                                    \
  if (dir.empty() || !fs::is_directory(dir))                                                \
    GTEST_SKIP() << "IOMMUCHECK_KERNEL_6_12 is not set or not a directory ('" << dir        \
                 << "'): scripts/fetch-kernel.sh fetches Linux 6.12; then configure with "  \
                    "-DIOMMUCHECK_KERNEL_6_12=DIR or export it";

// The known findings of 6.12 (docs/LINUX.md), by the signature the checker gives them.
bool known_6_12(const std::string& format, const Finding& f) {
  if (format != "arm-v7s") return false;
  // A section split writes level-2 entries without the section's output address; after a
  // supersection split the section's install compares against the wrong entry and unmap
  // returns 0 (LinuxKnownFindings below).
  return f.violation.check == "translation" ||
         (f.violation.check == "driver-call" &&
          f.violation.detail.find("returned 0 but iova") != std::string::npos);
}

class LinuxContract : public testing::TestWithParam<const char*> {};

// 20,000 correct calls each; arm-64 formats against an SMMUv3 without range invalidation,
// since 6.12's split leaves a cached block behind a range invalidation with a level-3 TTL
// (a known finding, LinuxKnownFindings below).
TEST_P(LinuxContract, CampaignFindsNothingUnknown) {
  REQUIRE_KERNEL(dir);
  const std::string format = GetParam();
  const DriverSource src = linux_driver_source(format, dir);
  CampaignOptions o;
  o.ops = 20000;
  o.isolate = true;
  o.keep_going = true;
  if (format.starts_with("arm-64")) o.check.iommu = IommuKind::kSmmuV3NoRange;
  const CampaignReport r = run_campaign(src, o);
  EXPECT_GE(r.ops, 20000u);
  for (const Finding& f : r.findings)
    EXPECT_TRUE(known_6_12(format, f)) << f.violation.message();
}

INSTANTIATE_TEST_SUITE_P(
    Linux612, LinuxContract,
    testing::Values("arm-64-lpae-s1-4k", "arm-64-lpae-s1-16k", "arm-64-lpae-s1-64k",
                    "arm-64-lpae-s2-4k", "arm-64-lpae-s2-16k", "arm-64-lpae-s2-64k",
                    "arm-32-lpae-s1", "arm-32-lpae-s2", "arm-mali-lpae", "arm-v7s", "apple-dart",
                    "apple-dart2"),
    [](const testing::TestParamInfo<const char*>& p) {
      std::string n = p.param;
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    });

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
  try {
    build_linux_drivers(tree, b);
    FAIL() << "a tree that does not compile was built";
  } catch (const LinuxBuildError& e) {
    EXPECT_NE(std::string(e.what()).find("compiling drivers/iommu/io-pgtable-dart.c failed"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("error: expected expression"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace iommu::conform
