// A randomized differential campaign (`iommucheck check`): generated ops run through the
// checker in episodes (a fresh domain every few thousand ops, each ending with the leak
// check), stopping at the first violation, which is then minimized to a short trace.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "conform/checker.h"
#include "conform/generator.h"
#include "conform/op.h"

namespace iommu::conform {

struct CampaignOptions {
  uint64_t seed = 1;
  uint64_t ops = 0;       // stop after this many ops; 0: only the time limit
  double seconds = 0;     // stop after this long; 0: only the op limit
  CallerMode mode = CallerMode::kContract;
  uint64_t episode_ops = 4000;
  CheckOptions check{};
  size_t minimize_tests = 4000;  // replays the minimization may spend
  // Called about every thousand ops with the ops done so far.
  std::function<void(uint64_t ops)> progress{};
  // Set by another job that found a violation: this one stops early.
  const std::atomic<bool>* stop = nullptr;
};

struct Finding {
  Violation violation;          // as it occurred
  Violation minimized;          // as the minimized trace reproduces it
  std::vector<Op> ops;          // the minimized trace
  uint64_t episode_seed = 0;    // replays the unminimized episode
  size_t original_ops = 0;      // ops in the episode up to the violation
  size_t minimize_tests = 0;
};

struct CampaignReport {
  uint64_t ops = 0;
  double seconds = 0;
  std::optional<Finding> finding;
};

CampaignReport run_campaign(const DriverSource& source, const CampaignOptions& opts);

// Called for every op a replay performs, with its results.
using ReplayObserver = std::function<void(size_t index, const Op& op, const StepResult& step)>;

// Runs ops on a fresh checker, then tears it down: the first violation, or nullopt.
std::optional<Violation> replay_ops(const DriverSource& source, const std::vector<Op>& ops,
                                    const CheckOptions& check = {},
                                    const ReplayObserver& observe = {});

// Delta-debugs ops to a short sequence that still fails the same check.
Finding minimize_finding(const DriverSource& source, const CheckOptions& check,
                         std::vector<Op> ops, const Violation& violation, size_t max_tests);

}  // namespace iommu::conform
