// Random differential run of RefDomain against the naive PageOracle: the reference checking
// itself, for `iommucheck selfcheck` (the tests do the same with RapidCheck and shrinking).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ref/config.h"

namespace iommu::ref {

struct SelfcheckOptions {
  uint64_t seed = 1;
  uint64_t ops = 100000;  // spread over every configuration of selfcheck_configs()
  std::function<void(uint64_t done)> progress;  // called every few thousand ops
};

struct SelfcheckReport {
  uint64_t ops = 0;
  uint64_t mismatches = 0;
  std::vector<std::string> details;  // the first few mismatches, each with its config and op
};

// Small address spaces (so the oracle stays cheap) with every policy combination.
std::vector<DomainConfig> selfcheck_configs();

SelfcheckReport run_selfcheck(const SelfcheckOptions& opts);

}  // namespace iommu::ref
