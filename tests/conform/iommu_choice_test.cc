// The choice of the IOMMU driver model: which kinds serve which drivers, that every kind that
// fits passes campaigns against our engine (no false verdict from the model), and that seeded
// bugs only a VT-d, AMD, lazy, non-present-caching or whole-leaf domain reaches are caught by
// a campaign run in that domain.
#include "conform/iommu_choice.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "conform/campaign.h"
#include "conform/impl_driver.h"
#include "conform/mutants.h"
#include "conform/trace.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

DriverInfo info_of(std::string_view format, bool np_caching = false) {
  DriverInfo info = impl_driver_source(format).info;
  info.config.np_caching = np_caching;
  return info;
}

TEST(IommuChoice, NamesParseBack) {
  for (IommuKind k : iommu_kinds()) EXPECT_EQ(parse_iommu(iommu_name(k)), k);
  EXPECT_EQ(parse_iommu("smmuv4"), std::nullopt);
  EXPECT_EQ(parse_iommu(""), std::nullopt);
}

TEST(IommuChoice, DefaultIsTheModelThatFitsTheFormat) {
  EXPECT_EQ(default_iommu(info_of("arm-64-lpae-s2-16k")), IommuKind::kSmmuV3);
  EXPECT_EQ(default_iommu(info_of("arm-v7s")), IommuKind::kSmmuV2);
  EXPECT_EQ(default_iommu(info_of("apple-dart")), IommuKind::kSmmuV2);
  EXPECT_EQ(default_iommu(info_of("arm-64-lpae-s1-4k", true)), IommuKind::kVtd);
  EXPECT_EQ(default_iommu(info_of("amd-v1")), IommuKind::kAmd);
  EXPECT_EQ(default_iommu(info_of("vtd-ss")), IommuKind::kVtd);
  EXPECT_EQ(default_iommu(info_of("x86-64")), IommuKind::kVtd);
  for (std::string_view f : impl::pgtable_formats()) {
    for (bool np : {false, true})
      if (!np || np_caching_possible(f))
        EXPECT_FALSE(iommu_misfit(default_iommu(info_of(f, np)), info_of(f, np))) << f;
  }
  EXPECT_TRUE(iommu_misfit(IommuKind::kSmmuV2, info_of("amd-v1")));
  EXPECT_TRUE(iommu_misfit(IommuKind::kAmd, info_of("vtd-ss")));
  EXPECT_FALSE(iommu_misfit(IommuKind::kAmd, info_of("x86-64")));
}

TEST(IommuChoice, MisfitsAreNamed) {
  const auto np = iommu_misfit(IommuKind::kSmmuV3, info_of("arm-64-lpae-s1-4k", true));
  ASSERT_TRUE(np);
  EXPECT_NE(np->find("needs the vtd or amd IOMMU"), std::string::npos) << *np;
  EXPECT_TRUE(iommu_misfit(IommuKind::kSmmuV2, info_of("arm-v7s", true)));
  const auto fmt = iommu_misfit(IommuKind::kSmmuV3NoRange, info_of("arm-v7s"));
  ASSERT_TRUE(fmt);
  EXPECT_NE(fmt->find("walks only the 64-bit LPAE formats"), std::string::npos) << *fmt;
  EXPECT_FALSE(iommu_misfit(IommuKind::kAmd, info_of("apple-dart2", true)));
  EXPECT_FALSE(iommu_misfit(IommuKind::kSmmuV2, info_of("arm-mali-lpae")));
  EXPECT_THROW(iommu_config(info_of("arm-v7s"), IommuKind::kSmmuV3, 1), std::invalid_argument);
}

// A plugin writing RISC-V tables (the engine does not serve the riscv formats yet).
DriverInfo riscv_plugin(bool np_caching = false) {
  DriverInfo info;
  info.name = "plugin:riscv.so";
  info.format.name = "riscv-sv39";
  info.config.np_caching = np_caching;
  return info;
}

TEST(IommuChoice, OnlyTheRiscvIommuWalksTheRiscvFormats) {
  EXPECT_EQ(default_iommu(riscv_plugin()), IommuKind::kRiscv);
  EXPECT_FALSE(iommu_misfit(IommuKind::kRiscv, riscv_plugin()));
  EXPECT_EQ(iommu_config(riscv_plugin(), std::nullopt, 5).style, impl::IommuStyle::kRiscv);
  for (IommuKind k : {IommuKind::kSmmuV2, IommuKind::kVtd, IommuKind::kAmd}) {
    const auto why = iommu_misfit(k, riscv_plugin());
    ASSERT_TRUE(why) << iommu_name(k);
    EXPECT_NE(why->find("only the RISC-V IOMMU (riscv) walks the riscv-sv* formats"),
              std::string::npos)
        << *why;
  }
  const auto other = iommu_misfit(IommuKind::kRiscv, info_of("arm-64-lpae-s1-4k"));
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("walks only the riscv-sv* formats, not arm-64-lpae-s1-4k"),
            std::string::npos)
      << *other;
  const auto np = iommu_misfit(IommuKind::kRiscv, riscv_plugin(true));
  ASSERT_TRUE(np);
  EXPECT_NE(np->find("needs the vtd or amd IOMMU"), std::string::npos) << *np;
}

TEST(IommuChoice, EachKindSendsItsOwnEncoding) {
  const DriverInfo lpae = info_of("arm-64-lpae-s2-64k");
  const impl::IommuDriverConfig v3 = iommu_config(lpae, IommuKind::kSmmuV3, 7);
  EXPECT_EQ(v3.style, impl::IommuStyle::kSmmuV3);
  EXPECT_TRUE(v3.smmu_range_inv);
  EXPECT_EQ(v3.smmu_stage, 2u);
  EXPECT_EQ(v3.smmu_page_shift, 16u);
  EXPECT_EQ(v3.ctx, 7u);
  EXPECT_FALSE(iommu_config(lpae, IommuKind::kSmmuV3NoRange, 1).smmu_range_inv);
  EXPECT_FALSE(iommu_config(lpae, IommuKind::kSmmuV2, 1).smmu_range_inv);
  EXPECT_EQ(iommu_config(lpae, IommuKind::kVtd, 1).style, impl::IommuStyle::kVtd);
  EXPECT_EQ(iommu_config(lpae, IommuKind::kAmd, 1).style, impl::IommuStyle::kAmd);
  EXPECT_TRUE(iommu_config(info_of("arm-v7s", true), IommuKind::kAmd, 1).np_caching);
  // Without a choice, the default: range invalidation only where SMMUv3 walks the format.
  EXPECT_TRUE(iommu_config(lpae, std::nullopt, 1).smmu_range_inv);
  EXPECT_FALSE(iommu_config(info_of("arm-v7s"), std::nullopt, 1).smmu_range_inv);
}

// Every model that fits, strict and lazy, with and without non-present caching where the
// model has it, on every format and each partial-unmap policy's natural caller.
TEST(IommuChoice, EveryFittingCombinationPassesCampaigns) {
  uint64_t seed = 1;
  for (std::string_view f : impl::pgtable_formats()) {
    for (IommuKind kind : iommu_kinds()) {
      for (auto inv : {ref::Invalidation::kStrict, ref::Invalidation::kLazy}) {
        for (bool np : {false, true}) {
          DriverSource src =
              impl_driver_source(f, np ? ref::PartialUnmap::kWhole : ref::PartialUnmap::kSplit);
          src.info.config.invalidation = inv;
          src.info.config.np_caching = np;
          if (iommu_misfit(kind, src.info)) continue;
          const auto mode = np ? CallerMode::kHostile : CallerMode::kContract;
          const CampaignReport r = run_campaign(src, {.seed = seed++,
                                                      .ops = 600,
                                                      .mode = mode,
                                                      .episode_ops = 300,
                                                      .check = {.iommu = kind},
                                                      .minimize_tests = 50});
          EXPECT_FALSE(r.finding) << src.info.name << " iommu=" << iommu_name(kind) << " "
                                  << ref::describe(src.info.config) << ": "
                                  << r.finding->minimized.message();
        }
      }
    }
  }
}

const MutantSpec& spec_named(std::string_view name) {
  const auto specs = mutant_specs();
  auto it =
      std::find_if(specs.begin(), specs.end(), [&](const MutantSpec& s) { return s.name == name; });
  if (it == specs.end()) throw std::logic_error("no such mutant");
  return *it;
}

// Each is a bug that only its configuration reaches; a campaign there kills it.
TEST(IommuChoice, BugsOfEachConfigurationAreCaughtByACampaign) {
  const std::pair<std::string_view, std::string_view> expected[] = {
      {"whole-gathers-request", "driver-call"},
      {"sync-map-nothing", ""},  // the cached fault: stale at the sync, or a failed access
      {"vtd-walk-leaf-only", ""},  // stale or translation: a walk through the freed table
      {"amd-walk-no-pde", ""},
  };
  for (const auto& [name, check] : expected) {
    SCOPED_TRACE(name);
    const MutantResult r = run_mutant(spec_named(name), 20, 1);
    EXPECT_TRUE(r.killed);
    if (check.empty()) {
      EXPECT_TRUE(r.check == "stale" || r.check == "translation") << r.violation;
    } else {
      EXPECT_EQ(r.check, check) << r.violation;
    }
  }
}

// The same bugs in the default domain (SMMUv3, strict, no non-present caching, split) are
// invisible: only the configuration reaches them.
TEST(IommuChoice, TheSameBugsHideInTheDefaultDomain) {
  for (std::string_view name : {"sync-map-nothing", "vtd-walk-leaf-only", "amd-walk-no-pde"}) {
    SCOPED_TRACE(name);
    MutantSpec spec = spec_named(name);
    spec.iommu = std::nullopt;
    spec.invalidation = ref::Invalidation::kStrict;
    spec.np_caching = false;
    const MutantResult r = run_mutant(spec, 0.5, 1);
    EXPECT_FALSE(r.killed) << r.violation;
  }
}

// A finding's trace records the IOMMU model, and replaying it in that model reproduces the
// finding, which the default model (SMMUv3 here) would not.
TEST(IommuChoice, AFindingReplaysInTheModelItsTraceRecords) {
  constexpr impl::Mutant kBug = impl::Mutant::kVtdWalkLeafOnly;
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  const CampaignReport r =
      run_campaign(src, {.seed = 1,
                         .ops = 20000,
                         .check = {.iommu = IommuKind::kVtd, .bug = kBug},
                         .minimize_tests = 300});
  ASSERT_TRUE(r.finding);
  const Trace written{.driver = src.info.name,
                      .config = src.info.config,
                      .iommu = IommuKind::kVtd,
                      .seed = std::nullopt,
                      .ops = r.finding->ops};
  const Trace read = parse_trace(format_trace(written));
  ASSERT_EQ(read.iommu, IommuKind::kVtd);
  EXPECT_TRUE(replay_ops(src, read.ops, {.iommu = read.iommu, .bug = kBug}));
  EXPECT_FALSE(replay_ops(src, read.ops, {.bug = kBug}));
}

}  // namespace
}  // namespace iommu::conform
