// The quirk and address-size variants of the linux: drivers (conform/linux/variants.c,
// docs/LINUX.md "Variants"): each runs a short contract campaign with no finding beyond its
// tree's baseline; the ones hw/ cannot walk run without the walk and say why; the geometry is
// the tree's own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <tuple>

#include "conform/baseline.h"
#include "conform/campaign.h"
#include "conform/iommu_choice.h"
#include "conform/linux_build.h"
#include "conform/linux_driver.h"
#include "tests/linux/kernel_trees.h"

namespace iommu::conform {
namespace {

bool known(const std::string& version, const std::string& variant, const Finding& f) {
  const std::string file = version == "6_12" ? "6.12.baseline" : "7.2.baseline";
  const Baseline baseline = Baseline::load(std::string(IOMMUCHECK_BASELINE_DIR) + "/" + file);
  return baseline.find("linux:" + variant, f.signature) != nullptr;
}

bool tree_has(const LinuxBuild& build, const std::string& variant) {
  return std::find(build.variants.begin(), build.variants.end(), variant) != build.variants.end();
}

// Every variant beyond the twelve base formats (those run in LinuxContract). A quirk the tree
// does not define (-hd before 6.x, -nowarn and -fwb before 7.x) is no variant of that tree.
constexpr const char* kVariants[] = {"arm-64-lpae-s1-4k-ns",
                                     "arm-64-lpae-s1-4k-ttbr1",
                                     "arm-64-lpae-s1-4k-wbwa",
                                     "arm-64-lpae-s1-4k-hd",
                                     "arm-64-lpae-s1-4k-nowarn",
                                     "arm-64-lpae-s1-4k-cfgalloc",
                                     "arm-64-lpae-s1-4k-ias39-oas36",
                                     "arm-64-lpae-s1-4k-ias32-oas32",
                                     "arm-64-lpae-s1-16k-ias36-oas42",
                                     "arm-64-lpae-s1-16k-ias47-oas44",
                                     "arm-64-lpae-s1-64k-ias52-oas52",
                                     "arm-64-lpae-s1-64k-ias42-oas40",
                                     "arm-64-lpae-s2-4k-ias40-oas48",
                                     "arm-64-lpae-s2-4k-ias32-oas32",
                                     "arm-64-lpae-s2-4k-fwb",
                                     "arm-64-lpae-s2-16k-ias36-oas36",
                                     "arm-64-lpae-s2-16k-ias42-oas42",
                                     "arm-64-lpae-s2-64k-ias52-oas52",
                                     "arm-64-lpae-s2-64k-ias44-oas44",
                                     "arm-mali-lpae-ias39",
                                     "arm-v7s-ns",
                                     "arm-v7s-ias30",
                                     "arm-v7s-mtk",
                                     "arm-v7s-mtk-ttbr",
                                     "apple-dart-4k",
                                     "apple-dart2-ias38"};

class LinuxVariantContract : public testing::TestWithParam<std::tuple<const char*, const char*>> {};

// 3,000 correct calls each (the base formats run 20,000): enough to map, split and unmap at
// every level; a known finding is judged by its signature, with little minimization (6.12's
// v7s variants meet findings 2 and 3 as arm-v7s does). As in LinuxContract, 6.12's arm-64 formats
// run against an SMMUv3 without range invalidation (its known finding 1).
TEST_P(LinuxVariantContract, CampaignFindsNothingUnknown) {
  const std::string version = std::get<0>(GetParam());
  const std::string variant = std::get<1>(GetParam());
  REQUIRE_KERNEL_VERSION(dir, version);
  const LinuxBuild build = build_linux_drivers(dir);
  if (!tree_has(build, variant))
    GTEST_SKIP() << "the tree does not define " << variant << "'s quirk";
  ASSERT_FALSE(build.unavailable.contains(variant)) << build.unavailable.at(variant);
  const DriverSource src = linux_driver_source(variant, dir);
  CampaignOptions o;
  o.ops = 3000;
  o.isolate = true;
  o.keep_going = true;
  o.minimize_tests = 20;  // judged by signature: the minimized trace is not needed
  if (version == "6_12" && variant.starts_with("arm-64")) o.check.iommu = IommuKind::kSmmuV3NoRange;
  const CampaignReport r = run_campaign(src, o);
  EXPECT_GE(r.ops, 3000u);
  for (const Finding& f : r.findings)
    EXPECT_TRUE(known(version, variant, f)) << f.signature << ": " << f.violation.message();
}

INSTANTIATE_TEST_SUITE_P(Linux, LinuxVariantContract,
                         testing::Combine(testing::Values("6_12", "SID"),
                                          testing::ValuesIn(kVariants)),
                         [](const testing::TestParamInfo<LinuxVariantContract::ParamType>& p) {
                           std::string n =
                               std::string(std::get<0>(p.param)) + "_" + std::get<1>(p.param);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// MediaTek's v7s writes PA bits above 32 and no access bits, which hw/ does not decode; 7.2's
// DART2 at ias 38 stacks three table levels under one TTBR, which hw/ does not walk (6.12 uses
// four TTBRs there, which it does). Such a variant declares no hw format, so the checker holds
// it to the reference alone, and its description says why.
TEST(LinuxVariants, UnwalkableRunsWithoutTheHwWalkAndSaysWhy) {
  REQUIRE_KERNEL(dir);
  const DriverInfo mtk = linux_driver_source("arm-v7s-mtk", dir).info;
  EXPECT_FALSE(mtk.walkable());
  EXPECT_EQ(mtk.config.oas, 34u);
  EXPECT_THAT(mtk.description, testing::HasSubstr("no hw walk: hw/ has no MediaTek v7s"));
  EXPECT_TRUE(linux_driver_source("apple-dart2-ias38", dir).info.walkable());
  const std::string sid = testing_linux::kernel_tree("SID");
  if (sid.empty()) return;
  const DriverInfo dart = linux_driver_source("apple-dart2-ias38", sid).info;
  EXPECT_FALSE(dart.walkable());
  EXPECT_THAT(dart.description, testing::HasSubstr("no hw walk: the tree stacks more than two"));
}

// The address sizes are the variant's, and the stage-2 start level the tree's: with ias 40 at
// 4K, 6.12 concatenates two level-1 tables, 7.2 keeps a two-entry level 0.
TEST(LinuxVariants, StageTwoGeometryFollowsTheTree) {
  for (const char* version : {"6_12", "SID"}) {
    const std::string dir = testing_linux::kernel_tree(version);
    if (dir.empty()) continue;
    const DriverInfo info = linux_driver_source("arm-64-lpae-s2-4k-ias40-oas48", dir).info;
    EXPECT_EQ(info.config.ias, 40u) << version;
    EXPECT_EQ(info.config.oas, 48u) << version;
    EXPECT_EQ(info.format.start_level.value_or(99), std::string(version) == "6_12" ? 1u : 0u)
        << version;
  }
}

}  // namespace
}  // namespace iommu::conform
