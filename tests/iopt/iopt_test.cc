// The IO address space on hand examples: where each PFN is stored, how many map calls a new
// area or domain costs, what an allocation failure at each point leaves behind. Every step is
// judged by the reference (harness.h); the examples also state the expected numbers outright.
#include <gtest/gtest.h>

#include <cerrno>

#include "conform/impl_driver.h"
#include "conform/iopt_checker.h"

namespace iommu::iopt::testing {
namespace {

using conform::IoptChecker;
using conform::IoptScenario;

constexpr uint64_t kIova = 0x100000;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// 16 user pages in four runs of four: 0x1000.., 0x2000.., 0x3000.., 0x4000...
IoptScenario four_runs(std::vector<std::string> formats = {"arm-64-lpae-s1-4k", "arm-v7s"}) {
  IoptScenario s;
  s.layout = {{0x1000, 4}, {0x2000, 4}, {0x3000, 4}, {0x4000, 4}};
  for (const std::string& f : formats) s.domains.push_back(conform::impl_driver_source(f));
  return s;
}

TEST(Iopt, WithOnlyDomainsTheDomainIsTheStorage) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.attach(0), 0);
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  EXPECT_EQ(h.iopt->stats().map_calls, 4u) << "one map call per PFN run";
  EXPECT_EQ(h.mm.total_pins(), 16u);
  EXPECT_EQ(h.iopt->stats().xarray_entries, 0u) << "nothing but the domain holds the PFNs";
  EXPECT_EQ(h.domains[0]->core.iova_to_phys(kIova + 5 * kPageSize + 0x10), 0x2001010u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, AreasWithoutDomainsPinNothing) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  EXPECT_EQ(h.mm.total_pins(), 0u);
  EXPECT_EQ(h.iopt->stats().map_calls, 0u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, ANewAreaReadsEachPfnOnceForEveryDomain) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.attach(0), 0);
  ASSERT_EQ(h.attach(1), 0);
  ASSERT_EQ(h.map_user(kIova, 2 * kPageSize, 8 * kPageSize), 0);
  EXPECT_EQ(h.mm.total_pins(), 8u) << "pinned once for both domains";
  EXPECT_EQ(h.iopt->stats().map_calls, 6u) << "runs of 2, 4 and 2 pages, in two domains";
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, AttachFillsANewDomainFromTheDomainThatStoresThePages) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.attach(0), 0);
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  const uint64_t requests = h.faults.requests();
  ASSERT_EQ(h.attach(1), 0);
  EXPECT_EQ(h.mm.total_pins(), 16u) << "no page pinned again";
  EXPECT_EQ(h.iopt->stats().map_calls, 8u);
  EXPECT_GT(h.faults.requests(), requests);
  ASSERT_EQ(h.detach(0), 0);
  EXPECT_EQ(h.mm.total_pins(), 16u) << "the other domain stores them now";
  ASSERT_EQ(h.detach(1), 0);
  EXPECT_EQ(h.mm.total_pins(), 0u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, CopiedAreasShareOnePinPerPage) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.attach(0), 0);
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  ASSERT_EQ(h.copy(kIova + 0x100000, kIova + 2 * kPageSize, 8 * kPageSize), 0);
  EXPECT_EQ(h.mm.total_pins(), 16u);
  ASSERT_EQ(h.unmap(kIova, 16 * kPageSize), 0);
  EXPECT_EQ(h.mm.total_pins(), 8u) << "the copy still holds its slice";
  ASSERT_EQ(h.unmap(kIova + 0x100000, 8 * kPageSize), 0);
  EXPECT_EQ(h.mm.total_pins(), 0u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, AnAccessForcesTheXarrayTierAndLeavesIt) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.attach(0), 0);
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  AccessId id = 0;
  ASSERT_EQ(h.add_access(kIova + 3 * kPageSize, 3 * kPageSize, true, &id), 0);
  EXPECT_EQ(h.iopt->stats().xarray_entries, 3u);
  EXPECT_EQ(h.mm.total_pins(), 16u) << "the access reuses the domain's pins";
  ASSERT_EQ(h.detach(0), 0);
  EXPECT_EQ(h.mm.total_pins(), 3u) << "only the access holds pages now";
  const uint8_t bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_EQ(h.write(id, kPageSize - 4, bytes), 0);
  ASSERT_EQ(h.read(id, 0, 3 * kPageSize), 0);
  ASSERT_EQ(h.attach(1), 0);
  EXPECT_EQ(h.mm.total_pins(), 16u);
  ASSERT_EQ(h.remove_access(id), 0);
  EXPECT_EQ(h.iopt->stats().xarray_entries, 0u);
  EXPECT_EQ(h.mm.total_pins(), 16u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, AnAccessWithoutDomainsPinsItsPagesOnly) {
  IoptChecker h(four_runs());
  ASSERT_EQ(h.map_user(kIova, 0, 16 * kPageSize), 0);
  AccessId a = 0, b = 0;
  ASSERT_EQ(h.add_access(kIova, 6 * kPageSize, false, &a), 0);
  ASSERT_EQ(h.add_access(kIova + 4 * kPageSize, 6 * kPageSize, false, &b), 0);
  EXPECT_EQ(h.mm.total_pins(), 10u) << "overlapping accesses pin the overlap once";
  EXPECT_EQ(h.unmap(kIova, 16 * kPageSize), -EBUSY);
  ASSERT_EQ(h.remove_access(a), 0);
  EXPECT_EQ(h.mm.total_pins(), 6u);
  ASSERT_EQ(h.remove_access(b), 0);
  EXPECT_EQ(h.mm.total_pins(), 0u);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, TheContractsErrnos) {
  IoptChecker h(four_runs());
  AccessId id = 0;
  EXPECT_EQ(h.map_user(kIova + 1, 0, kPageSize), -EINVAL);
  EXPECT_EQ(h.map_user(kIova, 0, 17 * kPageSize), -EFAULT);
  ASSERT_EQ(h.map_user(kIova, 0, 4 * kPageSize, 1), 0);
  EXPECT_EQ(h.map_user(kIova + 3 * kPageSize, 0, kPageSize), -EEXIST);
  EXPECT_EQ(h.copy(kIova + 0x10000, kIova, 5 * kPageSize), -ENOENT);
  EXPECT_EQ(h.copy(kIova + 0x10000, kIova, 4 * kPageSize, 3), -EPERM);
  EXPECT_EQ(h.unmap(kIova, kPageSize), -ENOENT);
  EXPECT_EQ(h.add_access(kIova, 5 * kPageSize, false, &id), -ENOENT);
  EXPECT_EQ(h.add_access(kIova, kPageSize, true, &id), -EPERM);
  EXPECT_EQ(h.remove_access(99), -ENOENT);
  EXPECT_EQ(h.detach(0), -ENOENT);
  ASSERT_EQ(h.attach(0), 0);
  EXPECT_EQ(h.attach(0), -EEXIST);
  ASSERT_EQ(h.add_access(kIova, kPageSize, false, &id), 0);
  EXPECT_EQ(h.read(id, kPageSize, 1), -EINVAL);
  const uint8_t one[] = {1};
  EXPECT_EQ(h.write(id, 0, one), -EPERM);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, ADomainWithoutFourKilobytePagesIsRefused) {
  IoptChecker h(four_runs({"arm-64-lpae-s1-64k"}));
  EXPECT_EQ(h.attach(0), -EINVAL);
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

// Fails the 1st, 2nd, ... allocation of one operation until it succeeds without a failure:
// each failure must return -ENOMEM and leave every rule holding (the harness judges).
template <class Op>
void fail_every_point(IoptChecker& h, Op op) {
  for (uint64_t n = 1;; ++n) {
    h.faults.fail_nth(n);
    const uint64_t failures = h.faults.failures();
    int rc = op();
    const bool failed = h.faults.failures() != failures;
    h.faults.fail_nth(0);
    if (!failed) {
      ASSERT_EQ(rc, 0);
      ASSERT_GT(n, 1u) << "the operation allocates nothing";
      return;
    }
    ASSERT_EQ(rc, -ENOMEM) << "failure " << n;
    ASSERT_TRUE(h.violations.empty()) << "failure " << n << "\n" << joined(h.violations);
  }
}

TEST(Iopt, AnAllocationFailureAtAnyPointLeavesNothingBehind) {
  IoptScenario s;
  s.config.batch_runs = 2;  // several batches per operation
  s.config.pin_chunk = 3;
  IoptChecker h(s);
  AccessId id = 0;
  fail_every_point(h, [&] { return h.attach(0); });
  fail_every_point(h, [&] { return h.map_user(kIova, 0, 40 * kPageSize); });
  fail_every_point(h,
                   [&] { return h.add_access(kIova + 8 * kPageSize, 20 * kPageSize, true, &id); });
  fail_every_point(h, [&] { return h.map_user(kIova + 0x100000, 30 * kPageSize, 30 * kPageSize); });
  fail_every_point(h,
                   [&] { return h.copy(kIova + 0x200000, kIova + 4 * kPageSize, 30 * kPageSize); });
  fail_every_point(h, [&] { return h.attach(1); });
  ASSERT_EQ(h.detach(0), 0);
  ASSERT_EQ(h.detach(1), 0);
  fail_every_point(h, [&] { return h.attach(2); });
  AccessId other = 0;
  fail_every_point(h, [&] { return h.add_access(kIova, 40 * kPageSize, false, &other); });
  h.teardown();
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

TEST(Iopt, TheBatchNeverCutsARun) {
  IoptScenario s;
  s.layout = {{0x5000, 64}, {0x9000, 3}, {0x7000, 64}};
  s.config.batch_runs = 1;
  s.config.pin_chunk = 5;
  s.domains = {conform::impl_driver_source("arm-64-lpae-s1-4k")};
  IoptChecker h(s);
  ASSERT_EQ(h.attach(0), 0);
  AccessId id = 0;
  ASSERT_EQ(h.map_user(kIova, 0, 131 * kPageSize), 0);
  ASSERT_EQ(h.add_access(kIova + 10 * kPageSize, 100 * kPageSize, false, &id), 0);
  ASSERT_EQ(h.copy(kIova + 0x200000, kIova, 131 * kPageSize), 0);
  EXPECT_EQ(h.iopt->stats().map_calls, 6u) << "three runs, whichever tier holds each page";
  h.teardown();
  EXPECT_TRUE(h.violations.empty()) << joined(h.violations);
}

}  // namespace
}  // namespace iommu::iopt::testing
