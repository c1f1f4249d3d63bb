// The checker of the `iopt:` drivers: an IO address space (iopt/iopt.h) whose domains are
// drivers under test (any DriverSource: impl, linux, plugin) behind the IOMMU core, run beside
// its reference (iopt/ref/ref.h). Each operation's errno, map calls and the state after it
// are judged; random campaigns (iopt_campaign) inject allocation failures at any point.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
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

// One operation of a campaign, as an iopt trace line holds it (conform/iopt_trace.h).
struct IoptOp {
  enum class Kind {
    kMapUser,
    kCopy,
    kUnmap,
    kAttach,
    kDetach,
    kAddAccess,
    kRemoveAccess,
    kRead,
    kWrite,
    kTeardown,
  };
  Kind kind = Kind::kTeardown;
  uint64_t iova = 0;    // map_user, unmap, add_access; copy's destination
  uint64_t src = 0;     // map_user's uva; copy's source iova
  uint64_t length = 0;  // bytes of the range, or of a read or write
  int prot = 0;         // map_user, copy
  unsigned domain = 0;  // attach, detach
  bool write = false;   // add_access
  // The access's name: add_access binds it (0: recording, the id the storage returns becomes
  // the name) and the other access ops use it; a name nothing bound is passed as the id.
  uint64_t id = 0;
  uint64_t offset = 0;  // read, write
  uint64_t fill = 0;    // write: the seed of the bytes written
  uint64_t fail = 0;    // the nth allocation request of the operation fails; 0: none
  bool operator==(const IoptOp&) const = default;
};

// The bytes a write op writes: `length` bytes from `fill`.
std::vector<uint8_t> iopt_fill_bytes(uint64_t fill, uint64_t length);

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
  // Runs `op` (arming its allocation failure, resolving its access name) and appends it to
  // `ops` as a trace records it. Returns the storage's errno (0 for teardown).
  int apply(IoptOp op);

  FaultInjector faults;
  UserMemory mm;
  std::vector<std::unique_ptr<IoptDomain>> domains;
  std::unique_ptr<iopt::IoPagetable> iopt;
  iopt::ref::Model model;
  std::vector<std::string> violations;
  // The operations so far, one line each, for a failure message.
  std::vector<std::string> log;
  // The operations apply() ran, in order; and the last operation's errnos.
  std::vector<IoptOp> ops;
  int last_want = 0;
  int last_got = 0;

 private:
  enum class Maps { kUnchecked, kChecked };
  template <class Impl, class Ref>
  int run(std::string what, Maps maps, Impl impl, Ref ref);
  void check_state(const std::string& what);
  AccessId access(uint64_t name) const;
  std::set<AccessId> live_accesses_;
  std::map<uint64_t, AccessId> names_;  // access names of apply()'s ops
};

// Draws a campaign's choices: operations and their arguments from `draw` (a random engine's
// numbers in iopt_campaign, a fuzz input's bytes in fuzz/fuzz_iopt.cc) over a small iova
// window and user memory, so that areas overlap, share pages objects through copy, and
// accesses cover domain-stored and hole spans alike.
class IoptOpPicker {
 public:
  using Draw = std::function<uint64_t()>;
  IoptOpPicker(IoptChecker& h, Draw draw, CallerMode mode);
  // One operation, with an allocation failure armed before about one in six.
  void step();

 private:
  uint64_t pick(uint64_t n) { return draw_() % n; }
  uint64_t skew(uint64_t v);
  uint64_t iova() { return skew(0x100000 + pick(64) * iopt::kPageSize); }
  uint64_t uva();
  uint64_t len() { return skew((1 + pick(12)) * iopt::kPageSize); }
  void add_access(uint64_t fail);
  void rw(bool write, uint64_t fail);

  IoptChecker& h_;
  Draw draw_;
  bool hostile_;
  std::vector<uint64_t> ids_;  // access names bound so far
};

struct IoptCampaignResult {
  uint64_t ops = 0;                     // operations run
  std::vector<std::string> violations;  // the first step's, then the last operations
  std::vector<IoptOp> trace;            // every operation run, teardown included
};

// A random campaign of `ops` operations from `seed`, an allocation failure injected before
// about one operation in six; hostile callers also pass unaligned and wrapping ranges. Stops
// at the first step that breaks a rule, and tears down when none did.
IoptCampaignResult iopt_campaign(uint64_t seed, uint64_t ops, const IoptScenario& scenario = {},
                                 CallerMode mode = CallerMode::kContract);

// A trace's operations on a fresh checker of `scenario`, stopped after the first operation
// that breaks a rule. `show` sees each operation with the reference's and the storage's errno.
struct IoptReplay {
  size_t ops = 0;                       // operations run
  std::vector<std::string> violations;  // of the last one run; empty: none broke a rule
};
using IoptShow = std::function<void(size_t index, const IoptOp& op, int want, int got)>;
IoptReplay replay_iopt(const IoptScenario& scenario, const std::vector<IoptOp>& ops,
                       const IoptShow& show = {});

// The rule a violation names: its text before the first ':' ("pins", "translation", ...).
std::string iopt_rule(const std::string& violation);

struct IoptFinding {
  std::string violation;    // the first one `ops` gives
  std::vector<IoptOp> ops;  // shortest found that still breaks the same rule
  bool minimized = true;    // false: `max_tests` or `stop` cut the minimization short
};
// Minimizes a failing `ops` (delta debugging over the operations, then dropping allocation
// failures) while its first violation keeps the rule of `violation`.
IoptFinding minimize_iopt(const IoptScenario& scenario, std::vector<IoptOp> ops,
                          const std::string& violation, size_t max_tests = 4000,
                          const std::function<bool()>& stop = {});

// The storage's bug zoo (`iommucheck mutants --driver-source iopt`): campaigns of a few hundred
// operations against `mutant`, from `seed` on, until one breaks a rule or `seconds` pass.
// MutantKill::check is the rule ("pins", "translation", ...); the violation is the minimized
// trace's, `finding` (when given) gets its scenario and operations.
MutantKill iopt_mutant_kill(iopt::Mutant mutant, double seconds, uint64_t seed,
                            std::pair<IoptScenario, IoptFinding>* finding = nullptr);

}  // namespace iommu::conform
