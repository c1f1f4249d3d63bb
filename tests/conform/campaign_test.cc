// Campaigns: minimization keeps the finding it started with, keep-going records every distinct
// finding, an interrupt stops minimization (the time limit: isolation_test.cc), and a seeded
// bug of the zoo lives in the instances of the campaign that asked for it and nowhere else.
#include "conform/campaign.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "conform/impl_driver.h"
#include "conform/op.h"
#include "conform/signature.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

// impl's engine with two reported rules: "first map_pages call is a block" (a 2M leaf as the
// driver's first call) and "unmap called" (every unmap_pages). A sequence whose unmap warns
// may contain a block map that, without the ops before it, is the first call and warns too,
// under the same check: a minimization that only keeps the check trades one for the other.
class TwoRuleDriver final : public Driver {
 public:
  TwoRuleDriver(std::unique_ptr<Driver> inner, DriverEnv& env)
      : inner_(std::move(inner)), env_(env) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    if (calls_++ == 0 && pgsize == 0x200000) env_.warnings.report("first map_pages is a block");
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    env_.warnings.report("unmap called");
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return inner_->iova_to_phys(iova); }

 private:
  std::unique_ptr<Driver> inner_;
  DriverEnv& env_;
  uint64_t calls_ = 0;
};

DriverSource two_rule_source() {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.create = [inner = src.create](DriverEnv& env) {
    return std::make_unique<TwoRuleDriver>(inner(env), env);
  };
  return src;
}

TEST(Minimize, KeepsTheSignatureItStartedWith) {
  const DriverSource src = two_rule_source();
  const std::vector<Op> ops = {
      MapOp{.iova = 0x0, .paddr = 0x0, .size = 0x1000, .prot = 3},
      MapOp{.iova = 0x200000, .paddr = 0x200000, .size = 0x200000, .prot = 3},
      UnmapOp{.iova = 0x0, .size = 0x1000},
  };
  const auto original = replay_ops(src, ops);
  ASSERT_TRUE(original);
  ASSERT_EQ(original->op_index, 2u);
  const Finding f = minimize_finding(src, {}, ops, *original, {.max_tests = 200});
  EXPECT_EQ(finding_signature(f.minimized), finding_signature(*original));
  EXPECT_EQ(f.minimized.op.substr(0, 5), "unmap");
  const auto again = replay_ops(src, f.ops);
  ASSERT_TRUE(again);
  EXPECT_EQ(finding_signature(*again), f.signature);
}

TEST(Campaign, StopsAtTheFirstFindingUnlessKeepGoing) {
  const DriverSource src = two_rule_source();
  const CampaignReport first =
      run_campaign(src, {.seed = 1, .ops = 1500, .episode_ops = 300, .minimize_tests = 50});
  ASSERT_EQ(first.findings.size(), 1u);
  EXPECT_LT(first.ops, 1500u);

  const CampaignReport all = run_campaign(
      src, {.seed = 1, .ops = 1500, .episode_ops = 300, .minimize_tests = 50, .keep_going = true});
  EXPECT_EQ(all.ops, 1500u);
  uint64_t seen = 0;
  for (const auto& [sig, n] : all.occurrences) seen += n;
  EXPECT_EQ(all.findings.size(), all.occurrences.size());  // each distinct one minimized once
  EXPECT_GT(seen, all.findings.size());                    // and counted every time
  EXPECT_GE(all.findings.size(), 2u);
  for (const Finding& f : all.findings) EXPECT_GT(all.occurrences.at(f.signature), 0u);
}

TEST(Campaign, SharedSignaturesAreMinimizedOnce) {
  const DriverSource src = two_rule_source();
  SignatureSet seen;
  CampaignOptions o{
      .seed = 1, .ops = 600, .episode_ops = 300, .minimize_tests = 50, .keep_going = true};
  o.seen = &seen;
  const CampaignReport a = run_campaign(src, o);
  const CampaignReport b = run_campaign(src, o);
  EXPECT_FALSE(a.findings.empty());
  EXPECT_TRUE(b.findings.empty());  // same seed, same signatures: already claimed
  EXPECT_EQ(a.occurrences, b.occurrences);
}

// A baseline's known findings are kept as they occurred; the others are still minimized.
TEST(Campaign, KnownFindingsAreNotMinimized) {
  const DriverSource src = two_rule_source();
  CampaignOptions o{
      .seed = 1, .ops = 1500, .episode_ops = 300, .minimize_tests = 50, .keep_going = true};
  const std::string known = run_campaign(src, o).findings.front().signature;
  o.known = [&](const std::string& signature) { return signature == known; };
  const CampaignReport r = run_campaign(src, o);
  ASSERT_GE(r.findings.size(), 2u);
  for (const Finding& f : r.findings) {
    if (f.signature == known) {
      EXPECT_EQ(f.cut_short, "known");
      EXPECT_EQ(f.minimize_tests, 0u);
      EXPECT_EQ(f.ops.size(), f.original_ops);
      EXPECT_EQ(f.ops.size(), f.violation.op_index + 1);  // the episode up to the violation
    } else {
      EXPECT_GT(f.minimize_tests, 0u) << f.signature;
    }
  }
}

TEST(Campaign, AnInterruptStopsMinimizationAndSaysSo) {
  const DriverSource src = two_rule_source();
  std::atomic<bool> interrupt{false};
  CampaignOptions o{.seed = 1, .ops = 100000, .episode_ops = 4000, .minimize_tests = 1000000};
  o.interrupt = &interrupt;
  o.minimize_progress = [&](const MinimizeProgress& p) {
    if (p.tests == 3) interrupt = true;
  };
  const CampaignReport r = run_campaign(src, o);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings.front().cut_short, "interrupted");
  EXPECT_LE(r.findings.front().minimize_tests, 4u);
  const auto again = replay_ops(src, r.findings.front().ops);
  ASSERT_TRUE(again);  // not minimal, but still the finding
  EXPECT_EQ(finding_signature(*again), r.findings.front().signature);
}

// Two checkers of the same driver alive in one thread, one with a seeded bug: each op runs on
// both in turn, so a bug held anywhere but in the instances would show in both or in neither.
// Returns the op (1-based) at which each side failed; 0 for none.
std::pair<size_t, size_t> buggy_and_clean(std::string_view format, impl::Mutant bug,
                                          const std::string& ops) {
  const DriverSource src = impl_driver_source(format);
  Checker buggy(src, {.bug = bug});
  Checker clean(src, {});
  std::pair<size_t, size_t> failed{0, 0};
  const Trace t = parse_trace(ops);
  for (size_t i = 0; i < t.ops.size(); i++) {
    if (buggy.step(t.ops[i]).violation && failed.first == 0) failed.first = i + 1;
    if (clean.step(t.ops[i]).violation && failed.second == 0) failed.second = i + 1;
  }
  return failed;
}

TEST(Campaign, ASeededBugLivesOnlyInTheInstancesThatAskedForIt) {
  // A bug of the page table (PgtableConfig::bug, through DriverEnv): iova_to_phys masks a
  // block's offset with the granule, which the probe after the map sees.
  const auto [table_buggy, table_clean] =
      buggy_and_clean("arm-64-lpae-s1-4k", impl::Mutant::kIovaToPhysGranuleMask,
                      "map iova=0x200000 paddr=0x40000000 size=2M prot=rw\n"
                      "iova_to_phys iova=0x234008\n");
  EXPECT_NE(table_buggy, 0u);
  EXPECT_EQ(table_clean, 0u);
  // A bug of the checker's IOMMU driver model (IommuDriverConfig::bug): the gathered page
  // that a disjoint one displaces is never invalidated.
  const auto [iommu_buggy, iommu_clean] =
      buggy_and_clean("arm-64-lpae-s1-4k", impl::Mutant::kGatherDropsDisjoint,
                      "map iova=0x1000 paddr=0x40001000 size=4K prot=rw\n"
                      "map iova=0x9000 paddr=0x40009000 size=4K prot=rw\n"
                      "read iova=0x1000\nread iova=0x9000\n"
                      "unmap_fast iova=0x1000 size=4K gather=1\n"
                      "unmap_fast iova=0x9000 size=4K gather=1\n"
                      "iotlb_sync gather=1\nread iova=0x1000\n");
  EXPECT_NE(iommu_buggy, 0u);
  EXPECT_EQ(iommu_clean, 0u);

  // Whole campaigns, one after the other in this thread: the buggy one's finds it, the clean
  // one's, with the same seed and ops, stays clean.
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  const CampaignOptions o{.seed = 1, .ops = 3000, .minimize_tests = 50};
  CampaignOptions seeded = o;
  seeded.check.bug = impl::Mutant::kIovaToPhysGranuleMask;
  EXPECT_TRUE(run_campaign(src, seeded).finding);
  const CampaignReport r = run_campaign(src, o);
  EXPECT_FALSE(r.finding) << r.finding->violation.message();
}

// The report's bookkeeping: the op mix counts every op the campaign ran, by its name, and the
// progress callback's last count is the campaign's, also when a violation cut an episode
// short before the checker's own progress calls.
TEST(Campaign, TheOpMixAndTheLastProgressCountEveryOpRun) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  for (impl::Mutant bug : {impl::Mutant::kNone, impl::Mutant::kIovaToPhysGranuleMask}) {
    uint64_t last = 0;
    CampaignOptions o{.seed = 1, .ops = 3000, .episode_ops = 500, .minimize_tests = 20};
    o.check.bug = bug;
    o.progress = [&last](uint64_t ops) { last = ops; };
    const CampaignReport r = run_campaign(src, o);
    EXPECT_EQ(r.finding.has_value(), bug != impl::Mutant::kNone);
    uint64_t sum = 0;
    for (const auto& [name, n] : r.op_mix) {
      EXPECT_TRUE(make_op(name)) << name;
      sum += n;
    }
    EXPECT_EQ(sum, r.ops);
    EXPECT_EQ(last, r.ops);
    EXPECT_GT(r.op_mix.size(), 5u);
  }
}

// With record_hw, a failing step says what the device sees at the op's first iova: the walk
// level by level and the IOTLB; a passing step, or a checker not recording, says nothing. The
// seeded bug makes the block's iova_to_phys wrong, which the probe after its map sees.
TEST(Checker, AFailingStepRecordsTheDevicesWalkOfItsIova) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  const Trace t = parse_trace(
      "map iova=0x1000 paddr=0x40001000 size=4K prot=rw\n"
      "map iova=0x200000 paddr=0x40000000 size=2M prot=rw\n");
  for (bool record : {true, false}) {
    Checker c(src, {.record_hw = record, .bug = impl::Mutant::kIovaToPhysGranuleMask});
    const StepResult map = c.step(t.ops[0]);
    EXPECT_FALSE(map.violation);
    EXPECT_EQ(map.device, "");
    const StepResult block = c.step(t.ops[1]);
    ASSERT_TRUE(block.violation);
    if (!record) {
      EXPECT_EQ(block.device, "");
      continue;
    }
    EXPECT_EQ(block.device,
              "walk of 0x200000: level 0: descriptor at 0x80000000 -> table 0x80001000; "
              "level 1: descriptor at 0x80001000 -> table 0x80002000; "
              "leaf [0x200000, +0x200000) -> 0x40000000 rwx at level 2. "
              "IOTLB for it: [0x200000, +0x200000) -> 0x40000000 rwx at level 2");
  }
}

// A failing device access is walked at its own iova; a driver whose tables cannot be walked
// (a plugin that declares no format) has no device state to give.
TEST(Checker, AFailingAccessIsWalkedAtItsIovaAndAnUnwalkableDriverGivesNoWalk) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  for (const std::string access : {"read", "write"}) {
    Checker c(src, {.record_hw = true, .bug = impl::Mutant::kGatherDropsDisjoint});
    const Trace t = parse_trace(
        "map iova=0x1000 paddr=0x40001000 size=4K prot=rw\n"
        "map iova=0x9000 paddr=0x40009000 size=4K prot=rw\n"
        "read iova=0x1000\nread iova=0x9000\n"
        "unmap_fast iova=0x1000 size=4K gather=1\n"
        "unmap_fast iova=0x9000 size=4K gather=1\n"
        "iotlb_sync gather=1\n" +
        access + " iova=0x1008\n");
    StepResult last;
    for (const Op& op : t.ops) last = c.step(op);
    ASSERT_TRUE(last.violation) << access;
    EXPECT_EQ(last.device.substr(0, 18), "walk of 0x1008: le") << last.device;
    EXPECT_NE(last.device.find("IOTLB for it: [0x1000, +0x1000) -> 0x40001000"),
              std::string::npos)
        << last.device;
  }

  src.info.format.name.clear();
  Checker blind(src, {.record_hw = true, .bug = impl::Mutant::kIovaToPhysGranuleMask});
  const StepResult block =
      blind.step(parse_trace("map iova=0x200000 paddr=0x40000000 size=2M prot=rw\n").ops[0]);
  ASSERT_TRUE(block.violation);
  EXPECT_EQ(block.device, "");
}

}  // namespace
}  // namespace iommu::conform
