// Test support for the IO address space: a domain stack of impl/'s page table behind the IOMMU
// core (any format), and a harness that runs each operation on the storage and on the
// reference, judging return codes, map calls and the state after every step. Random campaigns
// (campaign()) drive it with allocation failures injected at any point.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "hw/invalidation.h"
#include "hw/table_memory.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"
#include "impl/pgtable.h"
#include "iopt/iopt.h"
#include "iopt/ref/ref.h"

namespace iommu::iopt::testing {

class NullSink : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

// One attachable domain: table memory whose allocations the shared injector may fail, an
// SMMUv3-style driver, impl/'s page table and the core's iommu_map on top.
struct TestDomain {
  NullSink sink;
  hw::TableMemory memory;
  impl::IommuDriver driver;
  impl::Pgtable pgtable;
  impl::Domain core;
  CoreDomain domain;

  TestDomain(FaultInjector& faults, const std::string& format)
      : driver(sink, {}),
        pgtable({.format = {format}}, memory, driver),
        core(pgtable, driver, pgtable.domain_config()),
        domain(core) {
    memory.set_failure_hook([&faults](uint64_t, uint64_t) { return faults.should_fail(); });
  }
};

struct Scenario {
  std::vector<PfnRun> layout = UserMemory::scattered_layout(128, 8, 1);
  IoptConfig config{};
  std::vector<std::string> formats{"arm-64-lpae-s1-4k", "arm-64-lpae-s2-4k", "arm-v7s"};
};

class Harness {
 public:
  explicit Harness(Scenario scenario = {});
  ~Harness();

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
  std::vector<std::unique_ptr<TestDomain>> domains;
  std::unique_ptr<IoPagetable> iopt;
  ref::Model model{mm};
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

// A random campaign of `ops` operations from `seed`, an allocation failure injected before
// about one operation in six; returns the first violations (empty when every rule held).
std::vector<std::string> campaign(uint64_t seed, unsigned ops, const Scenario& scenario = {});

}  // namespace iommu::iopt::testing
