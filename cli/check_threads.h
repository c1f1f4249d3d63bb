// `check --threads N` (N > 1): concurrent campaigns (conform/concurrent.h) instead of the
// serial checker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/results.h"
#include "conform/concurrent.h"
#include "conform/registry.h"

namespace iommu::cli {

struct ThreadsArgs {
  std::string driver;
  unsigned threads = 2;
  uint64_t seed = 1;
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  std::string out;
  bool keep_going = false;
  double call_timeout = 5;
  uint64_t table_memory = 0;
};

// UsageError for a driver that does not declare concurrent calls or an op budget too small.
void check_threads_args(const ThreadsArgs& a, const conform::DriverSource& src);

// Runs the campaign, reports each finding as a trace file and the lost races; the exit code.
// Its case in `results` is named threads=N.
int run_threaded_check(const ThreadsArgs& a, const conform::DriverSource& src, Results& results);

}  // namespace iommu::cli
