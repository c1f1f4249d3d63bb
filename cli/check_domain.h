// The domains `check` runs a driver in (docs/CLI.md): the one --iommu, --invalidation and
// --np-caching choose, or with --matrix every combination of the three that fits the driver.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conform/checker.h"
#include "conform/iommu_choice.h"

namespace iommu::cli {

struct DomainArgs {
  std::string iommu;  // empty: the checker's default for the driver
  std::string invalidation = "strict";
  bool np_caching = false;
  bool matrix = false;
};

struct DomainRun {
  conform::DriverSource source;  // its config says strict or lazy, and non-present caching
  conform::IommuKind iommu;
  std::string label;  // "iommu=vtd lazy np_caching=on"
  std::string dir;    // "vtd-lazy-np": where a matrix run's findings go, under --out
};

// One run, or one per combination with --matrix (SMMU models without non-present caching,
// which only VT-d and AMD-Vi have). Throws UsageError for a combination the driver cannot run
// in, naming the option and why.
std::vector<DomainRun> domain_runs(const conform::DriverSource& source, const DomainArgs& args);

struct DomainTally {
  uint64_t ops = 0, violations = 0;
  uint64_t known = 0;  // findings a --baseline knows (not violations)
  double seconds = 0;
  double ops_per_s = 0;  // of checking: minimization excluded
};

// What one run may spend, and where its findings go.
struct DomainBudget {
  std::optional<uint64_t> ops;
  std::optional<double> seconds;
  std::string out;
};

using RunDomain = std::function<DomainTally(const DomainRun&, const DomainBudget&)>;

// Runs each domain in turn and returns the sum. One run gets the whole budget; several
// (--matrix) share it equally (at least one op per job, so no job runs unbounded), each
// writes its findings under out/DIR, and each is followed by its line `matrix: LABEL ops=N
// violations=V seconds=S`.
DomainTally run_domains(const std::vector<DomainRun>& runs, const DomainBudget& budget,
                        unsigned jobs, const RunDomain& run);

}  // namespace iommu::cli
