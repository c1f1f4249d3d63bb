// Concurrent campaigns (conform/concurrent.h): threads on disjoint stripes of one domain,
// judged per op and together at the end; a table install that is not atomic is caught only
// with several threads; the union judgement and the leak check see what no thread's op does.
#include "conform/concurrent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "base/prot.h"
#include "conform/campaign.h"
#include "conform/impl_driver.h"
#include "impl/mutant.h"

namespace iommu::conform {
namespace {

ConcurrentCampaignOptions campaign(unsigned threads, uint64_t ops, uint64_t seed = 1) {
  return {.threads = threads, .seed = seed, .ops = ops, .rounds = 300};
}

TEST(Concurrent, ImplFormatsPassWithSeveralThreadsAndTheirInstallsRace) {
  for (std::string_view f : {"arm-64-lpae-s1-4k", "arm-64-lpae-s2-16k", "arm-v7s", "apple-dart"}) {
    SCOPED_TRACE(f);
    const ConcurrentReport r = run_concurrent_campaign(impl_driver_source(f), campaign(3, 1200));
    ASSERT_TRUE(r.findings.empty()) << r.findings.front().violation.message();
    EXPECT_GE(r.ops, 1200u);
  }
  // Interleaved stripes share their upper tables: some installs lose the compare-exchange.
  // Whether two threads run at the same moment is the scheduler's choice (a loaded machine may
  // run one at a time), so up to forty campaigns get their chance to show one lost race.
  uint64_t lost = 0;
  for (uint64_t seed = 7; seed < 47 && lost == 0; seed++) {
    const ConcurrentReport r =
        run_concurrent_campaign(impl_driver_source("arm-64-lpae-s1-4k"), campaign(2, 6000, seed));
    ASSERT_TRUE(r.findings.empty()) << r.findings.front().violation.message();
    lost += r.races.installs_lost;
  }
  // The engine's install takes a few nanoseconds between reading the empty entry and its
  // compare-exchange: on a machine busy with other tests the two threads may never overlap
  // there, which says nothing about the engine. That installs do overlap is shown by the
  // mutant test below: a plain store instead of the compare-exchange is caught with threads.
  if (lost == 0) GTEST_SKIP() << "no install race lost in 40 campaigns: threads never overlapped";
}

TEST(Concurrent, ATableInstallThatIsNotAtomicIsCaughtOnlyWithThreads) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  const CheckOptions racy{.bug = impl::Mutant::kRacyTableInstall};
  ConcurrentCampaignOptions threads = campaign(2, 200000);
  threads.check = racy;
  const ConcurrentReport threaded = run_concurrent_campaign(src, threads);
  ASSERT_FALSE(threaded.findings.empty());
  const ConcurrentFinding& f = threaded.findings.front();
  EXPECT_TRUE(f.violation.check == "translation" || f.violation.check == "leak" ||
              f.violation.check == "driver-call")
      << f.violation.message();
  EXPECT_FALSE(f.trace.empty());
  // One thread: the same stream of ops in the serial checker finds nothing.
  const CampaignReport serial = run_campaign(src, {.seed = 1, .ops = 20000, .check = racy});
  EXPECT_FALSE(serial.finding) << serial.finding->violation.message();
}

// Wraps impl and does one thing more on its first map_pages call.
class OneMoreThing final : public Driver {
 public:
  enum class Extra { kMapIovaZero, kLeakATablePage };
  OneMoreThing(std::unique_ptr<Driver> inner, DriverEnv& env, Extra extra)
      : inner_(std::move(inner)), env_(env), extra_(extra) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    if (!done_.exchange(true)) {
      if (extra_ == Extra::kLeakATablePage) {
        (void)env_.memory.alloc(4096);
      } else {
        uint64_t unreported = 0;
        inner_->map_pages(0, 0x1000, 4096, 1, IOMMU_READ, &unreported);
      }
    }
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return inner_->iova_to_phys(iova); }

 private:
  std::unique_ptr<Driver> inner_;
  DriverEnv& env_;
  Extra extra_;
  std::atomic<bool> done_{false};
};

DriverSource one_more_thing(OneMoreThing::Extra extra) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.create = [create = src.create, extra](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<OneMoreThing>(create(env), env, extra);
  };
  return src;
}

TEST(Concurrent, TheUnionJudgementSeesAMappingNoThreadMade) {
  const ConcurrentEpisode e = run_concurrent_episode(
      one_more_thing(OneMoreThing::Extra::kMapIovaZero), {}, {.threads = 2, .rounds = 200});
  ASSERT_TRUE(e.violation);
  EXPECT_EQ(e.violation->op, "end of episode");
  EXPECT_EQ(e.violation->check, "translation");
  EXPECT_NE(e.violation->detail.find("map [0x0, 0xfff] -> 0x1000"), std::string::npos)
      << e.violation->detail;
  EXPECT_EQ(e.trace.size(), 400u);  // every op of every thread, round by round
}

TEST(Concurrent, TeardownSeesALeakedTablePage) {
  const ConcurrentEpisode e = run_concurrent_episode(
      one_more_thing(OneMoreThing::Extra::kLeakATablePage), {}, {.threads = 2, .rounds = 100});
  ASSERT_TRUE(e.violation);
  EXPECT_EQ(e.violation->op, "teardown");
  EXPECT_EQ(e.violation->check, "leak");
  EXPECT_NE(e.violation->detail.find("1 table page(s)"), std::string::npos) << e.violation->detail;
}

TEST(Concurrent, EachThreadRunsItsOwnReproducibleStream) {
  const ConcurrentOptions o{.threads = 2, .seed = 5, .rounds = 150};
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  const ConcurrentEpisode a = run_concurrent_episode(src, {}, o);
  const ConcurrentEpisode b = run_concurrent_episode(src, {}, o);
  ASSERT_FALSE(a.violation);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.ops, 300u);
  EXPECT_NE(thread_seed(5, 0), thread_seed(5, 1));
}

TEST(Concurrent, ADriverThatDoesNotDeclareConcurrentCallsIsRefused) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.info.concurrent = false;
  try {
    run_concurrent_episode(src, {}, {.threads = 2});
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("does not declare concurrent calls"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace iommu::conform

namespace iommu::conform {
namespace {

// An isolated driver that dies while it is created runs no op: a keep-going campaign still
// spends its budget on such episodes and ends, each one a `create` finding.
TEST(Concurrent, EpisodesThatDieAtCreateStillEndTheCampaign) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.create = [](DriverEnv&) -> std::unique_ptr<Driver> { std::_Exit(3); };
  ConcurrentCampaignOptions o = campaign(2, 20);
  o.isolate = true;
  o.keep_going = true;
  const ConcurrentReport r = run_concurrent_campaign(src, o);
  EXPECT_EQ(r.episodes, 20u);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings.front().violation.op, "create");
}

}  // namespace
}  // namespace iommu::conform
