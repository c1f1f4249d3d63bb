// `check --driver dma:FORMAT`, `replay` of its findings and `mutants --driver-source dma`: impl's
// DMA layer (dma_map/dma_unmap, IOVA allocator, flush queues) over impl's FORMAT page table,
// judged by conform/dma_checker.h (docs/DMA.md). Random episodes, each a trace; the first
// violation is minimized and written to --out as a trace `replay` runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/results.h"
#include "conform/dma_checker.h"

namespace iommu::cli {

struct DmaCheckArgs {
  std::string driver;                   // "dma:FORMAT"
  std::vector<conform::DmaMode> modes;  // each runs with an equal share of the budget
  uint64_t seed = 1;
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  bool hostile = false;
  std::string out;
  unsigned jobs = 1;
};

bool is_dma_driver(const std::string& name);
// Exit code as `check` gives it; UsageError for a format impl does not have.
int run_dma_check(const DmaCheckArgs& args, Results& results);
// Whether the file at path is a DMA trace (false when it cannot be read: `replay` reports that).
bool is_dma_trace_file(const std::string& path);
int run_dma_replay(const std::string& path);
// The DMA layer's bug zoo; exit 0 iff every one run is killed. UsageError for an unknown name.
int run_dma_mutants(const std::string& only, double seconds_per, uint64_t seed, Results& results);

}  // namespace iommu::cli
