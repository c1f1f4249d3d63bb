// `check --driver iopt:DRIVER`: the iommufd-style storage (iopt/) over three domains of DRIVER
// (a format means impl:FORMAT; impl:, linux: and plugin: names are taken as they are), judged
// by its reference (docs/IOPT.md). Random episodes of operations with allocation failures
// injected at any point, each in a child process unless DRIVER is impl's; the first violation
// is minimized and written to --out as an iopt trace that `replay` re-runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/results.h"

namespace iommu::cli {

struct IoptCheckArgs {
  std::string driver;  // "iopt:..."
  std::string kernel;
  uint64_t seed = 1;
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  bool hostile = false;
  std::string out;
  unsigned jobs = 1;
};

bool is_iopt_driver(const std::string& name);
// Exit code as `check` gives it; UsageError for a driver the storage cannot use.
int run_iopt_check(const IoptCheckArgs& args, Results& results);
// `replay FILE` of an iopt trace (conform/iopt_trace.h): each op with the reference's and the
// storage's errno, then the first violation. `driver` overrides the trace's.
int run_iopt_replay(const std::string& path, const std::optional<std::string>& driver,
                    const std::string& kernel);
// `mutants --driver-source iopt`: the storage's seeded bugs (iopt/config.h), the table of
// `mutants`; exit 0 iff every one run is killed. UsageError for an unknown --only name. With
// `out`, each kill's minimized trace is written there.
int run_iopt_mutants(const std::string& only, double seconds_per, uint64_t seed,
                     const std::string& out, Results& results);

}  // namespace iommu::cli
