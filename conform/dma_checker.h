// The checker of the `dma:` drivers (docs/DMA.md): impl's DMA layer (impl/dma.h: IOVA
// allocator, flush queue, dma_map/dma_unmap) over a page-table driver, its IOMMU driver model
// and a hw::Device whose IOTLB and walk cache really hold stale translations. Time is a manual
// clock the operations advance. The reference here is the checker's own: live mappings, the
// lazily unmapped ranges a device may still reach, and when each must stop being reachable;
// it reads no state of impl's flush queue, only the commands the device completed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/generator.h"
#include "conform/mutants.h"
#include "hw/device.h"
#include "impl/mutant.h"

namespace iommu::conform {

// strict: iommu.strict=1; per-cpu: the per-CPU flush queues; single: the one shared queue.
enum class DmaMode { kStrict, kPerCpu, kSingle };

std::string_view dma_mode_name(DmaMode m);  // "strict", "per-cpu", "single"
std::optional<DmaMode> parse_dma_mode(std::string_view name);

struct DmaScenario {
  std::string format = "arm-64-lpae-s1-4k";  // an impl format
  DmaMode mode = DmaMode::kStrict;
  unsigned cpus = 1;           // per-CPU queues; the other modes have one
  uint64_t fq_entries = 0;     // ring slots, a power of two; 0: Linux's (256 or 32768)
  uint64_t fq_timeout_ms = 0;  // 0: Linux's (10 ms per-CPU, 1000 ms single)
  unsigned dma_bits = 32;      // the device's DMA mask; a small one makes IOVAs come back soon
  CallerMode caller = CallerMode::kContract;
  // The bug zoo's seeded bug (impl/mutant.h) in this world's page table, IOMMU driver, DMA
  // layer and flush queue; not part of the trace text.
  impl::Mutant bug = impl::Mutant::kNone;

  uint64_t timeout_ms() const;  // what the timer waits, defaults resolved
  uint64_t ring_slots() const;
};

enum class DmaOpKind { kMap, kUnmap, kUnmapIova, kTick, kPoll, kDrain, kAccess, kAccessIova };

// One step. Mappings are named by the map that made them (label), so that a trace stays
// meaningful when minimizing drops operations; an op naming a mapping that was never made
// (or whose map failed) is skipped.
struct DmaOp {
  DmaOpKind kind = DmaOpKind::kPoll;
  unsigned label = 0;  // kMap: the new mapping's name; kUnmap, kAccess: the mapping named
  uint64_t paddr = 0;  // kMap
  uint64_t size = 0;   // kMap, kUnmapIova; kUnmap: 0 unmaps the size mapped
  uint64_t iova = 0;   // kUnmapIova, kAccessIova; kAccess: the offset from the mapping's iova
  int prot = 0;        // kMap
  unsigned cpu = 0;    // kUnmap, kUnmapIova
  uint64_t ms = 0;     // kTick
  bool write = false;  // kAccess, kAccessIova
};

struct DmaViolation {
  std::string rule;  // "translation", "stale-after-flush", "reuse-before-flush", ...
  std::string detail;
  std::string message() const { return rule + ": " + detail; }
};

class DmaWorld;  // the system under test, dma_checker.cc

class DmaChecker {
 public:
  // Throws DriverError (conform/registry.h) for a format impl does not have.
  explicit DmaChecker(const DmaScenario& scenario);
  ~DmaChecker();

  // Runs one op and judges it; returns the first rule it broke. `outcome` (when not null)
  // gets a line saying what happened, for replay.
  std::optional<DmaViolation> step(const DmaOp& op, std::string* outcome = nullptr);
  // Unmaps what is live, drains the queue and checks that nothing is held or reachable.
  std::optional<DmaViolation> teardown();

  uint64_t live_mappings() const { return live_.size(); }
  // Accesses that went through a lazily unmapped range's stale translation, as allowed.
  uint64_t stale_hits() const { return stale_hits_; }
  const DmaScenario& scenario() const { return scenario_; }

 private:
  struct Range {
    uint64_t iova = 0;  // page-aligned
    uint64_t paddr = 0;
    uint64_t len = 0;
    int prot = 0;
  };
  struct Stale {
    Range range;
    uint64_t unmapped_ms = 0;
    uint64_t flushes = 0;  // context flushes the device had completed when it was unmapped
    unsigned ring = 0;
  };
  struct Label {
    uint64_t iova = 0;  // as dma_map returned it
    uint64_t size = 0;  // as dma_map was asked
    bool live = false;
  };

  // A lazily unmapped range that must no longer be reachable, and why (the rule it breaks).
  struct Gone {
    Range range;
    std::string_view rule;
    std::string_view why;
  };
  static constexpr size_t kGoneKept = 256;

  std::optional<DmaViolation> dispatch(const DmaOp& op, std::string& out);
  std::optional<DmaViolation> map(const DmaOp& op, std::string& out);
  std::optional<DmaViolation> fresh(uint64_t base, uint64_t len) const;
  std::optional<DmaViolation> unmap(uint64_t iova, uint64_t size, unsigned cpu, std::string& out);
  std::optional<DmaViolation> drain(std::string& out);
  // Judges every outcome the device may produce, then performs the access (filling caches).
  std::optional<DmaViolation> access(uint64_t iova, bool write, std::string& out, bool show = true);
  // Moves to gone_ the stale ranges a completed context flush covers and, when the flush
  // queue was polled, those whose timer ran out (every map and unmap polls).
  void expire(bool polled);
  std::optional<DmaViolation> judge_access(uint64_t iova, bool write,
                                           const hw::AccessResult& res) const;
  std::optional<DmaViolation> probe_range(const Range& r) const;
  std::optional<DmaViolation> check_held(const std::string& when) const;
  uint64_t granule() const;
  unsigned space_bits() const;
  const Range* live_at(uint64_t iova) const;

  DmaScenario scenario_;
  std::unique_ptr<DmaWorld> world_;
  std::map<uint64_t, Range> live_;  // by iova
  std::vector<Stale> stale_;
  std::map<unsigned, Label> labels_;
  std::vector<Gone> gone_;
  uint64_t now_ms_ = 0;
  uint64_t stale_hits_ = 0;
  bool queued_since_drain_ = false;
};

// A trace: the scenario and its ops (the text format is in docs/DMA.md).
struct DmaTrace {
  DmaScenario scenario;
  std::vector<DmaOp> ops;
  std::string comment;  // printed as `# ` lines at the top
};

std::string format_dma_op(const DmaOp& op);
std::string format_dma_trace(const DmaTrace& t);
// Throws TraceError (conform/trace.h) naming the line that is wrong.
DmaTrace parse_dma_trace(const std::string& text, const std::string& where);
// Whether text is a DMA trace (its `driver dma:` line), so that `replay` can tell.
bool is_dma_trace(const std::string& text);

struct DmaRunResult {
  uint64_t ops = 0;  // steps run
  std::optional<DmaViolation> violation;
  std::optional<size_t> failing_op;  // index of the op that broke it; none: teardown
  uint64_t stale_hits = 0;           // DmaChecker::stale_hits
};

// Runs the trace's ops in order, stopping at the first violation, then tears down. `show`
// (when set) gets each op's index and outcome line.
DmaRunResult run_dma_trace(const DmaTrace& t,
                           const std::function<void(size_t, const std::string&)>& show = {});

// A random trace of `ops` steps for `scenario` from `seed`.
DmaTrace generate_dma_trace(const DmaScenario& scenario, uint64_t seed, uint64_t ops);
// A scenario drawn from seed for a mode: queue sizes, timeouts, CPUs and DMA masks vary.
DmaScenario dma_scenario(const std::string& format, DmaMode mode, CallerMode caller, uint64_t seed);

// The shortest trace (by dropping ops) that still breaks the same rule.
DmaTrace minimize_dma_trace(const DmaTrace& t, const std::string& rule);

// The DMA layer's bug zoo (`iommucheck mutants --driver-source dma`).
struct DmaMutantSpec {
  impl::Mutant id;
  std::string_view name;
  std::string_view models;
  DmaMode mode;
};
std::span<const DmaMutantSpec> dma_mutant_specs();
// Campaigns against the mutant until one breaks a rule or `seconds` pass; the violation is
// minimized.
MutantKill dma_mutant_kill(const DmaMutantSpec& spec, double seconds, uint64_t seed);

}  // namespace iommu::conform
