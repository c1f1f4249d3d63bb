// A randomized differential campaign (`iommucheck check`): generated ops run through the
// checker in episodes (a fresh domain every few thousand ops, each ending with the leak
// check). A violation is minimized to a short trace; the campaign then stops, or with
// keep_going records each distinct finding (by signature, conform/signature.h) and goes on.
// Isolated campaigns run each episode and each replay in a child process (conform/isolation.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/generator.h"
#include "conform/isolation.h"
#include "conform/op.h"

namespace iommu::conform {

// The signatures found so far, shared by the jobs of one run so that each distinct finding is
// minimized once.
class SignatureSet {
 public:
  // True when `signature` is new (the caller minimizes it).
  bool claim(const std::string& signature);

 private:
  std::mutex mu_;
  std::set<std::string> seen_;
};

struct MinimizeProgress {
  std::string signature;
  size_t tests = 0;  // replays so far
  size_t ops = 0;    // length of the shortest failing trace so far
};

struct CampaignOptions {
  uint64_t seed = 1;
  uint64_t ops = 0;    // stop after this many ops; 0: only the time limit
  double seconds = 0;  // stop after this long, minimization included; 0: only the op limit
  CallerMode mode = CallerMode::kContract;
  uint64_t episode_ops = 4000;
  CheckOptions check{};
  size_t minimize_tests = 4000;  // replays the minimization of one finding may spend
  bool keep_going = false;       // after a finding, minimize it and go on
  bool isolate = false;          // episodes and replays in a child process
  double call_timeout = 5;       // seconds per driver call, when isolated
  // Called about every thousand ops with the ops done so far.
  std::function<void(uint64_t ops)> progress{};
  // Called at every replay of a minimization.
  std::function<void(const MinimizeProgress&)> minimize_progress{};
  // Set by another job that found a violation: this one stops after its current episode's
  // op (a minimization in progress goes on).
  const std::atomic<bool>* stop = nullptr;
  // Set on SIGINT or SIGTERM: stop now, minimization included.
  const std::atomic<bool>* interrupt = nullptr;
  // Shared by jobs; nullptr: this campaign's own.
  SignatureSet* seen = nullptr;
  // Findings the caller already knows (a baseline's): recorded as they occurred, unminimized,
  // since nobody reads their trace. Empty: every finding is minimized.
  std::function<bool(const std::string& signature)> known{};
};

struct Finding {
  Violation violation;        // as it occurred
  Violation minimized;        // as the minimized trace reproduces it
  std::string signature;      // finding_signature(violation)
  std::vector<Op> ops;        // the minimized trace
  uint64_t episode_seed = 0;  // replays the unminimized episode
  size_t original_ops = 0;    // ops in the episode up to the violation
  size_t minimize_tests = 0;
  // Empty, or why the minimization stopped before it was done ("interrupted", "the time
  // limit") or did not run ("known"): `ops` then still fails the same way but is not minimal.
  std::string cut_short;
  uint64_t found_after_ops = 0;    // ops run by the campaign when the violation occurred
  double found_after_seconds = 0;  // and the time it had taken
};

struct CampaignReport {
  uint64_t ops = 0;
  double seconds = 0;              // wall time, minimization included
  double checking_seconds = 0;     // wall time spent running ops (not minimizing)
  std::vector<Finding> findings;   // each distinct finding this campaign minimized, in order
  std::optional<Finding> finding;  // findings.front(), for callers that stop at the first
  std::map<std::string, uint64_t> occurrences;  // every finding seen, by signature
  std::map<std::string, uint64_t, std::less<>> op_mix;  // ops run, by op_name (`check --report`)
};

CampaignReport run_campaign(const DriverSource& source, const CampaignOptions& opts);

// Called for every op a replay performs, with its results.
using ReplayObserver = std::function<void(size_t index, const Op& op, const StepResult& step)>;

// Runs ops on a fresh checker, then tears it down: the first violation, or nullopt.
std::optional<Violation> replay_ops(const DriverSource& source, const std::vector<Op>& ops,
                                    const CheckOptions& check = {},
                                    const ReplayObserver& observe = {});

// replay_ops in a child process: a driver that crashes, exits or hangs is the violation
// (checks crash, exit, timeout). `observe` runs in the child; stdout is flushed after each call
// so that what it printed survives the child. Throws IsolationError when the replay cannot run
// (e.g. the driver cannot be created).
std::optional<Violation> replay_isolated(const DriverSource& source, const std::vector<Op>& ops,
                                         const CheckOptions& check,
                                         const IsolationOptions& isolation,
                                         const ReplayObserver& observe = {});

struct MinimizeOptions {
  size_t max_tests = 4000;
  bool isolate = false;
  IsolationOptions isolation{};
  std::function<bool()> stop{};  // ends the minimization early (Finding::cut_short says why)
  std::function<std::string()> why_stopped{};
  std::function<void(const MinimizeProgress&)> progress{};
};

// Delta-debugs ops to a short sequence whose violation has the same signature.
Finding minimize_finding(const DriverSource& source, const CheckOptions& check, std::vector<Op> ops,
                         const Violation& violation, const MinimizeOptions& options);

}  // namespace iommu::conform
