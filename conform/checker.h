// The checker: drives a driver under test through the Linux core loop (impl::Domain) beside
// the reference, with the driver's tables walked by the hardware model, and after every op
// compares return values, each driver call, iova_to_phys, a cache-less walk of probe iovas,
// device accesses through adversarial caches, and what the caches still hold where an
// invalidation had to remove it. At teardown it checks that every table page was freed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conform/checked_pgtable.h"
#include "conform/driver.h"
#include "conform/iommu_choice.h"
#include "conform/memory_pool.h"
#include "conform/model_limit.h"
#include "conform/op.h"
#include "conform/ref_side.h"
#include "hw/device.h"
#include "hw/table_memory.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"

namespace iommu::conform {

// A driver as the checker receives it: what it declares, and how to create one instance.
struct DriverSource {
  DriverInfo info;
  std::function<std::unique_ptr<Driver>(DriverEnv&)> create;
};

struct CheckOptions {
  hw::CacheConfig caches{};  // adversarial by default: nothing leaves a cache uninvalidated
  unsigned samples = 2;      // random probe iovas per op, beside the range's edges
  bool record_hw = false;    // fill StepResult::hw (for replay)
  // The IOMMU driver model (conform/iommu_choice.h); nullopt: the default for the driver.
  std::optional<IommuKind> iommu{};
  // Bytes of simulated table memory (hw::TableMemory::window_for_oas); 0: the default window.
  uint64_t table_memory = 0;
  // The bug zoo's seeded bug (impl/mutant.h, conform/mutants.h) in this checker's instances:
  // its IOMMU driver model, and an impl or virtio driver under test (DriverEnv::bug). Each
  // takes only its own bugs; nothing outside this checker is affected.
  impl::Mutant bug = impl::Mutant::kNone;
};

struct Violation {
  size_t op_index = 0;  // 0-based position of the op in the run
  std::string op;       // the op as its trace line
  std::string check;    // which check failed: driver-call, return, memory, warn, stale, ...
  std::string detail;   // what ref allowed and what the driver or hardware did

  std::string message() const;  // "op N `...`: CHECK: DETAIL"
};

// What one op did on each side, for `iommucheck replay`.
struct StepResult {
  int64_t ref = 0;
  int64_t driver = 0;
  std::string hw;  // device accesses made for this op, e.g. "read 0x1000 -> 0x80001000 (iotlb)"
  // With record_hw, when the op failed: its first iova as the device sees it then (the table
  // walk level by level, what the IOTLB holds), for `check --report`.
  std::string device;
  // WARNs the driver gave for an op that was caller misuse: allowed, and shown by replay.
  std::vector<std::string> tolerated_warnings;
  std::optional<Violation> violation;
};

class Checker {
 public:
  // Throws std::invalid_argument (naming the problem) for a driver the checker cannot hold to
  // its declaration, an opts.iommu that cannot serve it or a table memory size its oas cannot
  // address, ModelLimitError when the table memory cannot hold the driver's first tables, and
  // whatever its creation throws.
  explicit Checker(const DriverSource& source, const CheckOptions& opts = {});
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Throws ModelLimitError when the op needed more table memory than the model has: the
  // driver's answer is then not judged.
  StepResult step(const Op& op);
  // Destroys the driver, then reports leaked table pages; later steps are not allowed.
  std::optional<Violation> teardown();

  const ref::RefDomain& reference() const { return ref_.domain(); }

  // The context id the IOMMU driver's commands and the device's cache entries carry.
  static constexpr hw::ContextId kCtx = 1;
  const DriverInfo& info() const { return info_; }
  size_t ops() const { return ops_; }

 private:
  struct Range {
    uint64_t first, last;
  };

  int64_t apply_driver(const Op& op);
  int64_t apply_driver_failing(const Op& op);
  impl::IotlbGather& gather(GatherLabel label) { return gathers_[label]; }
  std::optional<std::string> check_op(const Op& op, std::string& hw_log);
  std::string device_state(const Op& op) const;
  std::optional<std::string> probe(uint64_t iova, std::string* hw_log);
  std::optional<std::string> probe_access(uint64_t iova, const ref::DeviceAccess& access,
                                          std::string* hw_log);
  std::optional<std::string> check_invalidated(Range r);
  std::vector<uint64_t> region_starts(uint64_t first, uint64_t last) const;
  std::optional<std::string> check_memory();
  std::optional<std::string> check_warnings(bool misuse, StepResult& r);
  void check_model_limit(const std::string& when) const;
  std::vector<uint64_t> probe_points(Range r);
  std::vector<Range> settled_ranges(const Op& op, int64_t driver_ret);

  DriverInfo info_;
  CheckOptions opts_;
  MemoryLease lease_;  // before everything that uses the memory, so it returns last
  hw::TableMemory& mem_;
  std::optional<hw::Format> fmt_;
  std::unique_ptr<hw::Device> device_;
  std::unique_ptr<hw::InvalidationSink> null_sink_;
  std::unique_ptr<impl::IommuDriver> iommu_;
  std::unique_ptr<CheckedPgtable> checked_;
  std::unique_ptr<DriverEnv> env_;
  std::unique_ptr<Driver> driver_;
  OwnIommu* own_ = nullptr;  // the driver's own IOMMU (virtio-iommu): probed instead of device_
  std::unique_ptr<impl::Domain> domain_;
  RefSide ref_;
  std::map<GatherLabel, impl::IotlbGather> gathers_;
  std::map<GatherLabel, std::vector<Range>> pending_;  // unmapped into a gather, not yet synced
  std::vector<uint64_t> roots_;
  size_t bad_accesses_ = 0;
  uint64_t fail_nth_ = 0;  // armed by fail_alloc for the next op; 0: none
  size_t ops_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15;
};

}  // namespace iommu::conform
