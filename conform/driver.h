// The driver under test, whatever its source (impl/, Linux io-pgtable through the shim, a
// plugin): io_pgtable_ops plus what the checker needs to judge it, the configuration the
// reference holds it to and where its tables are, so that hw/ can walk them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hw/format.h"
#include "hw/table_memory.h"
#include "impl/io_pgtable.h"
#include "impl/mutant.h"
#include "ref/config.h"
#include "ref/device_view.h"

namespace iommu::conform {

// Messages from a driver under test, oldest first: its own WARNs (Linux WARN_ON), or misuse
// of the host an adapter catches (a double free, a misaligned table access). Drivers may
// report from several threads.
class WarningLog {
 public:
  void report(std::string message);
  // The messages reported since the last take(), oldest first.
  std::vector<std::string> take();
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
};

// What a driver is created against: the memory its table pages come from, where its flush
// callbacks go, where its warnings are reported, and the bug zoo's seeded bug. Must outlive
// every driver created with it.
struct DriverEnv {
  hw::TableMemory& memory;
  impl::FlushOps& flush;
  // The driver's WARNs, each beginning with its FILE:LINE: a finding unless the call that
  // caused it was caller misuse, which a driver may warn about.
  WarningLog warnings{};
  // Misuse of table memory or of the host's callbacks: always a finding.
  WarningLog host_errors{};
  // The seeded bug (impl/mutant.h) an impl or virtio driver created here switches on, from
  // CheckOptions::bug; other drivers ignore it.
  impl::Mutant bug = impl::Mutant::kNone;
};

struct DriverInfo {
  std::string name;          // as the CLI spells it: "plugin:/path/x.so", "impl:arm-v7s"
  std::string description;   // one line
  ref::DomainConfig config;  // what the reference model holds the driver to
  // The hw format its tables are written in (hw::make_format), with the config's ias/oas;
  // an empty name when its tables cannot be walked.
  hw::FormatConfig format;
  // map_pages, unmap_pages and iova_to_phys may be called from several threads at once on
  // disjoint iova ranges (a plugin declares it, docs/PLUGINS.md): `check --threads` needs it.
  bool concurrent = false;

  bool walkable() const { return !format.name.empty(); }
  // What the hw walk reads the tables as: `format`, its unset ias and oas the config's.
  hw::FormatConfig walk_format() const {
    hw::FormatConfig f = format;
    if (f.ias == 0) f.ias = config.ias;
    if (f.oas == 0) f.oas = config.oas;
    return f;
  }
};

// A driver that is a whole IOMMU, as virtio-iommu is (requests to a device of its own, no
// tables for hw/ to walk): the core's sync calls go to it, and the checker probes device
// accesses on what its device translates.
class OwnIommu : public impl::IotlbOps {
 public:
  // The translation a device access to iova goes through now; nullopt: it faults.
  virtual std::optional<ref::Observation> device_translation(uint64_t iova) const = 0;
  // Where the device's translations intersecting [first, last] begin (clamped to first),
  // at most `max` of them: what must be judged once an invalidation of that range completed.
  virtual std::vector<uint64_t> device_mappings_in(uint64_t first, uint64_t last,
                                                   size_t max) const = 0;
};

// io_pgtable_ops with Linux conventions (impl/io_pgtable.h). As in Linux, the ops may be
// called from several threads at once on disjoint iova ranges; an adapter whose driver cannot
// take that serializes the calls (and its info says !concurrent). The destructor frees every
// table page the driver allocated, so that memory.live_allocations() is then the leak list.
class Driver : public impl::IoPgtableOps {
 public:
  virtual const DriverInfo& info() const = 0;
  // The root table paddrs a hardware walk starts from (one per TTBR for apple-dart); empty
  // when the driver is not walkable.
  virtual std::vector<uint64_t> roots() const = 0;
  // Non-null for a driver that is its own IOMMU (virtio-iommu).
  virtual OwnIommu* own_iommu() { return nullptr; }
};

// A driver that is one io_pgtable_ops object of ours: the calls go straight to it.
class OpsDriver : public Driver {
 public:
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    return ops().map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return ops().unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return ops().iova_to_phys(iova); }

 protected:
  virtual impl::IoPgtableOps& ops() = 0;
};

}  // namespace iommu::conform
