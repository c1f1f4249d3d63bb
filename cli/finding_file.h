// Where `check` puts a finding: a new trace file in --out, named so that runs never overwrite
// each other, or stdout when the file cannot be written, so a finding is never lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/results.h"
#include "conform/campaign.h"
#include "conform/registry.h"

namespace iommu::cli {

struct FindingTarget {
  std::string out;     // directory
  std::string driver;  // as --driver names it
  std::string caller;  // contract or hostile
  std::optional<conform::IommuKind> iommu{};  // the IOMMU model the run used, for replay
};

// Before a campaign: --out is, or is created as, a directory this process can write in, and the
// driver's name can be written into a trace. Throws UsageError naming the problem.
void check_finding_target(const FindingTarget& target, const conform::DriverSource& src);

// The file name without directory and extension: KIND-NAME-CALLER-seedN-CHECK.
std::string finding_stem(const FindingTarget& target, const std::string& check, uint64_t seed);

// Prints "VIOLATION: ..." and then the path of the minimized trace (unminimized when its
// minimization was cut short, and said so in its comment) written as a new file in
// target.out, or, when it cannot be written, why and the trace itself on stdout. Returns the
// finding for the CI formats, its trace's path in it (empty when it was not written).
ResultFinding report_finding(const FindingTarget& target, const conform::DriverSource& src,
                             const conform::Finding& f, uint64_t seed);

// The finding for the CI formats, as its minimized trace reproduces it, without a trace path.
ResultFinding result_finding(const conform::Finding& f, uint64_t seed);

}  // namespace iommu::cli
