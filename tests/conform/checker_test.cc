// The checker against our own engine: every impl format passes campaigns in every invalidation
// mode, and each check fires on a driver that breaks the rule it guards.
#include "conform/checker.h"

#include <gtest/gtest.h>

#include "base/prot.h"
#include "conform/campaign.h"
#include "conform/impl_driver.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

CampaignOptions short_campaign(uint64_t seed, CallerMode mode = CallerMode::kContract) {
  return {.seed = seed, .ops = 1500, .mode = mode, .episode_ops = 500, .check = {}};
}

void expect_clean(const DriverSource& src, const CampaignOptions& opts) {
  const CampaignReport r = run_campaign(src, opts);
  EXPECT_FALSE(r.finding) << src.info.name << " " << ref::describe(src.info.config) << ": "
                          << r.finding->violation.message();
  EXPECT_EQ(r.ops, opts.ops);
}

TEST(Checker, EveryImplFormatPassesContractAndHostileCampaigns) {
  for (std::string_view f : impl::pgtable_formats()) {
    SCOPED_TRACE(f);
    expect_clean(impl_driver_source(f), short_campaign(1));
    expect_clean(impl_driver_source(f, ref::PartialUnmap::kWhole),
                 short_campaign(2, CallerMode::kHostile));
  }
}

TEST(Checker, LazyAndNonPresentCachingDomainsPass) {
  for (std::string_view f : {"arm-64-lpae-s1-4k", "arm-v7s", "apple-dart"}) {
    DriverSource src = impl_driver_source(f);
    src.info.config.invalidation = ref::Invalidation::kLazy;
    expect_clean(src, short_campaign(3));
    src.info.config.np_caching = true;
    expect_clean(src, short_campaign(4));
  }
}

// A driver with one behaviour changed, to show which check catches it.
class Broken : public Driver {
 public:
  enum class Fault { kUnmapReturn, kIovaToPhysOffset, kSkipAddPage, kLeak, kWritableReadOnly };
  Broken(std::unique_ptr<Driver> inner, Fault fault, DriverEnv& env)
      : inner_(std::move(inner)), fault_(fault), env_(env) {
    if (fault_ == Fault::kLeak) env_.memory.alloc(4096);
  }
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    if (fault_ == Fault::kWritableReadOnly) prot |= IOMMU_WRITE;
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    impl::IotlbGather dropped;
    const bool skip = fault_ == Fault::kSkipAddPage && pgcount > 1;
    const uint64_t n = inner_->unmap_pages(iova, pgsize, pgcount, skip ? &dropped : gather);
    return fault_ == Fault::kUnmapReturn && n > pgsize ? n - pgsize : n;
  }
  uint64_t iova_to_phys(uint64_t iova) override {
    const uint64_t pa = inner_->iova_to_phys(iova);
    return fault_ == Fault::kIovaToPhysOffset ? pa & ~uint64_t{0xfff} : pa;
  }

 private:
  std::unique_ptr<Driver> inner_;
  Fault fault_;
  DriverEnv& env_;
};

// The first violation a campaign finds against the broken driver.
Violation caught(Broken::Fault fault) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner, fault](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<Broken>(inner(env), fault, env);
  };
  const CampaignReport r = run_campaign(src, {.seed = 1, .ops = 20000, .minimize_tests = 300});
  if (!r.finding) ADD_FAILURE() << "not caught";
  return r.finding ? r.finding->minimized : Violation{};
}

// Reporting a page less than it removed reads as an early stop at a page boundary, which the
// contract allows; the reference follows it and still holds that page mapped, so the probes
// find it gone.
TEST(Checker, CatchesAWrongUnmapReturn) {
  const Violation v = caught(Broken::Fault::kUnmapReturn);
  EXPECT_TRUE(v.check == "driver-call" || v.check == "translation") << v.message();
}

TEST(Checker, CatchesIovaToPhysWithoutTheOffset) {
  const Violation v = caught(Broken::Fault::kIovaToPhysOffset);
  EXPECT_EQ(v.check, "translation");
  EXPECT_NE(v.detail.find("iova_to_phys"), std::string::npos) << v.detail;
}

TEST(Checker, CatchesAMissingLeafInvalidation) {
  // The leaves go to a gather nobody syncs: only the device still hitting them shows it.
  const Violation v = caught(Broken::Fault::kSkipAddPage);
  EXPECT_EQ(v.check, "stale");
  EXPECT_NE(v.detail.find("IOTLB still holds"), std::string::npos) << v.detail;
}

TEST(Checker, CatchesALeakedTablePage) { EXPECT_EQ(caught(Broken::Fault::kLeak).check, "leak"); }

TEST(Checker, CatchesATooPermissiveDescriptor) {
  const Violation v = caught(Broken::Fault::kWritableReadOnly);
  EXPECT_EQ(v.check, "translation");
  EXPECT_NE(v.detail.find("perms"), std::string::npos) << v.detail;
}

TEST(Checker, MinimizedFindingsReplayToTheSameViolation) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<Broken>(inner(env), Broken::Fault::kIovaToPhysOffset, env);
  };
  const CampaignReport r = run_campaign(src, {.seed = 5, .ops = 20000});
  ASSERT_TRUE(r.finding);
  EXPECT_LE(r.finding->ops.size(), 3u);
  const auto again = replay_ops(src, r.finding->ops);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->check, r.finding->violation.check);
}

}  // namespace
}  // namespace iommu::conform
