// `--coverage DIR` on check and replay: the kernel's files of a linux: driver instrumented,
// a line and branch report written to DIR after the run (conform/linux_coverage.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace iommu::cli {

void add_coverage_option(CLI::App* cmd, std::string& dir);
// Before the driver is resolved; throws UsageError for a driver that is not linux:, a DIR that
// cannot be written or a missing gcovr. Does nothing when `dir` is empty.
void start_coverage(const std::string& dir, const std::string& driver);
// After the run: writes the report and prints one line per kernel file and where the report
// is. Throws UsageError when it cannot be written. Does nothing when `dir` is empty.
void finish_coverage(const std::string& dir);

}  // namespace iommu::cli
