// Runs a driver under test in a child process, so that a driver that crashes, exits or hangs
// becomes a finding instead of taking the checker with it (docs/PLUGINS.md). The child runs a
// body (an episode, a replay) against the driver and writes each op into shared memory before
// it runs it, so a death at op K leaves the parent the ops up to K; every driver call beats a
// heartbeat in that memory, which the parent's watchdog reads. The in-process path pays
// nothing for this: only the child wraps the driver.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/op.h"

namespace iommu::conform {

struct IsolationOptions {
  double call_timeout = 5;  // seconds one driver call may take before it counts as a hang
  // Asked in the parent about every 50 ms; once true (another job's finding, an interrupt,
  // the time limit) the child is asked to stop after its current op.
  std::function<bool()> stop{};
  // Called in the parent about every 50 ms with the ops the child has started.
  std::function<void(uint64_t ops)> progress{};
};

// Plugins, and later linux: drivers, run isolated; impl: drivers are ours and run in-process.
bool runs_isolated(const DriverInfo& info);

// The child's side of the run.
class IsolatedChild {
 public:
  virtual ~IsolatedChild() = default;
  // Records an op before it runs; false when the record is full (the body should stop).
  virtual bool started(const Op& op) = 0;
  // True once the parent asked the child to stop.
  virtual bool stop_requested() const = 0;
  // Another driver the body runs beside the one it was given (`diff`), wrapped so that its
  // calls beat the watchdog too.
  virtual DriverSource watch(const DriverSource& other) = 0;
};

// Runs in the child with `source` wrapped so that every driver call beats the watchdog. It
// returns the run's violation; what it throws comes back to the parent as an IsolationError.
using IsolatedBody =
    std::function<std::optional<Violation>(const DriverSource& source, IsolatedChild& child)>;

// The child threw (a driver that cannot be created, an unusable configuration): what() is the
// child's message, one line.
struct IsolationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct IsolatedRun {
  std::vector<Op> ops;                 // the ops the child started, in order
  std::optional<Violation> violation;  // the body's, or check crash, exit or timeout
};

// Runs in every isolated child just before it exits. The child ends with _exit, which skips
// atexit handlers and a plugin's destructors: a coverage build writes its counters here
// (conform/linux_coverage.h). At most 64 hooks; any thread may add one at any time.
void add_child_exit_hook(void (*hook)());

// Forks, runs `body` in the child and waits for it. A child killed by a signal is a `crash`,
// one that exits on its own (a driver calling exit) an `exit`, a driver call that takes longer
// than call_timeout a `timeout` (the child is killed): each a Violation at the op that was
// running (op "create" or "teardown" outside the ops), naming the driver call. Throws
// IsolationError when the body threw, std::system_error when fork or mmap fail.
IsolatedRun run_isolated(const DriverSource& source, const IsolatedBody& body,
                         const IsolationOptions& options);

}  // namespace iommu::conform
