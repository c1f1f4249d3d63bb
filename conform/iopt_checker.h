// The checker of the `iopt:` drivers: an IO address space (iopt/iopt.h) whose domains are
// drivers under test (any DriverSource: impl, linux, plugin) behind the IOMMU core, run beside
// its reference (iopt/ref/ref.h). Each operation's errno, map calls and the state after it
// are judged; random campaigns (iopt_campaign) inject allocation failures at any point.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/driver.h"
#include "conform/generator.h"
#include "conform/mutants.h"
#include "hw/invalidation.h"
#include "hw/table_memory.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"
#include "iopt/iopt.h"
#include "iopt/ref/ref.h"

namespace iommu::conform {

using iopt::AccessId;
using iopt::FaultInjector;
using iopt::UserMemory;

class DiscardSink : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

// One attachable domain: table memory whose allocations the shared injector may fail, the
// IOMMU driver's flush side, the driver under test and the core's iommu_map on top.
struct IoptDomain {
  DiscardSink sink;
  hw::TableMemory memory;
  impl::IommuDriver flush;
  DriverEnv env;
  std::unique_ptr<Driver> pgtable;
  impl::Domain core;
  iopt::CoreDomain domain;

  IoptDomain(const DriverSource& source, FaultInjector& faults);
};

struct IoptScenario {
  std::vector<iopt::PfnRun> layout = UserMemory::scattered_layout(128, 8, 1);
  iopt::IoptConfig config{};
  // One attachable domain each; empty: impl's arm-64-lpae-s1-4k, arm-64-lpae-s2-4k, arm-v7s.
  std::vector<DriverSource> domains{};
};

class IoptChecker {
 public:
  explicit IoptChecker(const IoptScenario& scenario = {});
  ~IoptChecker();

  int map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot = 3);
  int copy(uint64_t dst, uint64_t src, uint64_t length, int prot = 3);
  int unmap(uint64_t iova, uint64_t length);
  int attach(unsigned d);
  int detach(unsigned d);
  int add_access(uint64_t iova, uint64_t length, bool write, AccessId* id);
  int remove_access(AccessId id);
  int read(AccessId id, uint64_t offset, uint64_t length);
  int write(AccessId id, uint64_t offset, std::span<const uint8_t> bytes);
  // Tears everything down through the operations and checks nothing is left held.
  void teardown();

  FaultInjector faults;
  UserMemory mm;
  std::vector<std::unique_ptr<IoptDomain>> domains;
  std::unique_ptr<iopt::IoPagetable> iopt;
  iopt::ref::Model model;
  std::vector<std::string> violations;
  // The operations so far, one line each, for a failure message.
  std::vector<std::string> log;

 private:
  enum class Maps { kUnchecked, kChecked };
  template <class Impl, class Ref>
  int run(std::string what, Maps maps, Impl impl, Ref ref);
  void check_state(const std::string& what);
  std::set<AccessId> live_accesses_;
};

struct IoptCampaignResult {
  uint64_t ops = 0;                     // operations run
  std::vector<std::string> violations;  // the first step's, then the last operations
};

// A random campaign of `ops` operations from `seed`, an allocation failure injected before
// about one operation in six; hostile callers also pass unaligned and wrapping ranges. Stops
// at the first step that breaks a rule, and tears down when none did.
IoptCampaignResult iopt_campaign(uint64_t seed, uint64_t ops, const IoptScenario& scenario = {},
                                 CallerMode mode = CallerMode::kContract);

// The storage's bug zoo (`iommucheck mutants --driver-source iopt`): campaigns of a few hundred
// operations against `mutant`, from `seed` on, until one breaks a rule or `seconds` pass.
// MutantKill::check is the rule ("pins", "translation", ...); trace_ops is 0 (no trace).
MutantKill iopt_mutant_kill(iopt::Mutant mutant, double seconds, uint64_t seed);

}  // namespace iommu::conform
