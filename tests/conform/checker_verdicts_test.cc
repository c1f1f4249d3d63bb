// Verdicts the checker must not get wrong on correct drivers: an iova beyond the ias, and a
// WARN a driver gives on purpose when the caller misuses it.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include "conform/campaign.h"
#include "conform/impl_driver.h"
#include "conform/trace.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

std::optional<Violation> replay(const DriverSource& src, const std::string& text) {
  return replay_ops(src, parse_trace(text).ops);
}

// Every op that names an iova at 2^ias: ref and driver both refuse it (-ERANGE, 0), and the
// hardware's address size fault there is the right answer, not a broken walk.
TEST(CheckerVerdicts, AnIovaBeyondTheIasIsNoFinding) {
  for (std::string_view f : impl::pgtable_formats()) {
    const DriverSource src = impl_driver_source(f);
    const unsigned ias = src.info.config.ias;
    if (ias >= 64) continue;
    const uint64_t top = uint64_t{1} << ias, min = src.info.config.min_pgsize();
    for (const std::string& op : {
             fmt::format("iova_to_phys iova={:#x}", top),
             fmt::format("map iova={:#x} paddr=0x0 size={:#x} prot=rw", top, min),
             fmt::format("map_nosync iova={:#x} paddr=0x0 size={:#x} prot=rw", top, min),
             fmt::format("unmap iova={:#x} size={:#x}", top, min),
             fmt::format("map_pages iova={:#x} paddr=0x0 pgsize={:#x} pgcount=1 prot=rw", top, min),
             fmt::format("unmap_pages iova={:#x} pgsize={:#x} pgcount=1", top, min),
             fmt::format("unmap_fast iova={:#x} size={:#x} gather=1", top, min),
             fmt::format("iotlb_sync_map iova={:#x} size={:#x}", top, min),
             fmt::format("map_sg iova={:#x} prot=rw segs=0x0+{:#x}", top, min),
             fmt::format("read iova={:#x}", top),
         }) {
      const auto v = replay(src, op + "\n");
      EXPECT_FALSE(v) << f << ": " << v->message();
    }
  }
}

// impl, with a WARN reported as Linux would on each call it refuses.
class Warns : public Driver {
 public:
  Warns(std::unique_ptr<Driver> inner, DriverEnv& env, bool on_every_map)
      : inner_(std::move(inner)), env_(env), on_every_map_(on_every_map) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  uint64_t iova_to_phys(uint64_t iova) override { return inner_->iova_to_phys(iova); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    const int ret = inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
    if (ret == -EEXIST || on_every_map_) env_.warnings.report("io-pgtable-arm.c:334: WARN_ON(1)");
    return ret;
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }

 protected:
  DriverEnv& env() { return env_; }

 private:
  std::unique_ptr<Driver> inner_;
  DriverEnv& env_;
  bool on_every_map_;
};

DriverSource warning(bool on_every_map) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner, on_every_map](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<Warns>(inner(env), env, on_every_map);
  };
  return src;
}

constexpr const char* kMapTwice =
    "map iova=0x200000 paddr=0x100000 size=4K prot=rw\n"
    "map iova=0x200000 paddr=0x100000 size=4K prot=rw\n";

TEST(CheckerVerdicts, AWarnOnMisuseIsRecordedNotAViolation) {
  const DriverSource src = warning(false);
  std::vector<StepResult> steps;
  const auto v = replay_ops(src, parse_trace(kMapTwice).ops, {},
                            [&](size_t, const Op&, const StepResult& r) { steps.push_back(r); });
  EXPECT_FALSE(v) << v->message();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_TRUE(steps[0].tolerated_warnings.empty());
  ASSERT_EQ(steps[1].tolerated_warnings.size(), 1u);
  EXPECT_EQ(steps[1].tolerated_warnings[0], "io-pgtable-arm.c:334: WARN_ON(1)");
}

TEST(CheckerVerdicts, AWarnOnACorrectCallIsItsOwnCheck) {
  const auto v = replay(warning(true), kMapTwice);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "warn");
  EXPECT_EQ(v->op_index, 0u);
  EXPECT_EQ(v->detail, "io-pgtable-arm.c:334: WARN_ON(1)");
}

// A WARN while the driver is destroyed has no misuse to excuse it.
TEST(CheckerVerdicts, AWarnAtTeardownIsAFinding) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner](DriverEnv& env) -> std::unique_ptr<Driver> {
    struct WarnsOnDestroy : Warns {
      using Warns::Warns;
      ~WarnsOnDestroy() override { env().warnings.report("io-pgtable.c:99: WARN_ON(leak)"); }
    };
    return std::make_unique<WarnsOnDestroy>(inner(env), env, false);
  };
  const auto v = replay(src, "map iova=0x200000 paddr=0x100000 size=4K prot=rw\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "warn");
  EXPECT_EQ(v->op, "teardown");
  EXPECT_EQ(v->detail, "io-pgtable.c:99: WARN_ON(leak)");
}

// Hostile campaigns provoke WARNs on purpose and go on past them.
TEST(CheckerVerdicts, HostileCampaignsGoPastWarnsOnMisuse) {
  const CampaignReport r = run_campaign(
      warning(false), {.seed = 3, .ops = 4000, .mode = CallerMode::kHostile, .episode_ops = 2000});
  EXPECT_FALSE(r.finding) << r.finding->violation.message();
  EXPECT_EQ(r.ops, 4000u);
}

// fail_alloc makes the next op's nth table allocation fail: the driver's -ENOMEM path runs,
// and the reference follows its answer (a map fails whole; a split that cannot allocate stops).
TEST(CheckerVerdicts, InjectedAllocationFailuresAreAllowedAnswers) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  std::vector<int64_t> results;
  const auto v = replay_ops(src,
                            parse_trace("fail_alloc nth=1\n"
                                        "map iova=0x40000000 paddr=0x0 size=4K prot=rw\n"
                                        "map iova=0x40000000 paddr=0x0 size=2M prot=rw\n"
                                        "fail_alloc nth=1\n"
                                        "unmap iova=0x40001000 size=4K\n"
                                        "unmap iova=0x40001000 size=4K\n")
                                .ops,
                            {}, [&](size_t, const Op&, const StepResult& r) {
                              results.push_back(r.driver);
                            });
  EXPECT_FALSE(v) << v->message();
  EXPECT_EQ(results, (std::vector<int64_t>{0, -ENOMEM, 0, 0, 0, 0x1000}));
}

// The checker ignores a fail_alloc for the op after next.
TEST(CheckerVerdicts, AFailAllocArmsOnlyTheNextOp) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  std::vector<int64_t> results;
  replay_ops(src,
             parse_trace("fail_alloc nth=1\n"
                         "iova_to_phys iova=0x0\n"
                         "map iova=0x40000000 paddr=0x0 size=4K prot=rw\n")
                 .ops,
             {}, [&](size_t, const Op&, const StepResult& r) { results.push_back(r.driver); });
  EXPECT_EQ(results, (std::vector<int64_t>{0, 0, 0}));
}

}  // namespace
}  // namespace iommu::conform
