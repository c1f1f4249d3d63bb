// The domains `check` runs a driver in (docs/CLI.md): the one --iommu, --invalidation and
// --np-caching choose, or with --matrix every combination of the three that fits the driver.
#pragma once

#include <cstdint>
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

// The share of a budget that run `index` of `runs` gets: equal parts, the remainder to the
// first runs, at least 1.
uint64_t budget_share(uint64_t total, size_t index, size_t runs);

}  // namespace iommu::cli
