// `iommucheck diff` (docs/CLI.md, docs/LINUX.md "diff"): the same generated op streams against
// two drivers (a linux: format from two kernel trees), each in its own checker, and every kind
// of op where the two behave differently: the driver's return value (mapped or unmapped bytes,
// iova_to_phys's translation), a WARN, or which one violates (a device access that differs is
// a violation on one side: its checker compares the device with the reference).
//
// Every op of the stream is compared on a history both sides share: after a difference the
// two domains hold different state, so the episode runs again from its start without that op.
// Differences are grouped by their kind (the op kind and what differs) and each group's first
// trace is minimized to the shortest one that still shows a difference of that kind. Episodes run in a child process (conform/isolation.h), so
// a driver that hangs or crashes is a difference of kind `timeout`/`crash`, not the end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/generator.h"
#include "conform/op.h"

namespace iommu::conform {

struct DiffOptions {
  uint64_t seed = 1;
  uint64_t ops = 20000;  // in all episodes
  CallerMode mode = CallerMode::kHostile;
  uint64_t episode_ops = 2000;
  CheckOptions check{};
  size_t minimize_tests = 400;  // replays per group
  double call_timeout = 5;
  std::function<void(uint64_t ops)> progress{};
};

struct DiffGroup {
  std::string kind;      // "unmap: return, warn": the op kind and what differs
  std::vector<Op> ops;   // the shortest trace found; its last op differs
  std::string old_side;  // what its last op did on each side
  std::string new_side;
  uint64_t ops_differing = 0;  // ops that differed this way
  uint64_t episodes = 0;       // episodes with at least one of them
};

struct DiffReport {
  uint64_t ops = 0;
  uint64_t episodes = 0;
  std::vector<DiffGroup> groups;  // in the order first seen
};

// The two sources must have the same hw format and configuration (the same linux: name).
// Throws std::invalid_argument when they do not, IsolationError when a driver cannot run.
DiffReport diff_drivers(const DriverSource& old_src, const DriverSource& new_src,
                        const DiffOptions& opts);

}  // namespace iommu::conform
