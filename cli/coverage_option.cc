#include "cli/coverage_option.h"

#include <fmt/core.h>

#include <filesystem>

#include "cli/command.h"
#include "conform/linux_coverage.h"

namespace iommu::cli {

void add_coverage_option(CLI::App* cmd, std::string& dir) {
  cmd->add_option("--coverage", dir,
                  "linux: drivers only: build the kernel's files with coverage instrumentation "
                  "and write a line and branch report (gcovr) into this directory");
}

void start_coverage(const std::string& dir, const std::string& driver) {
  if (dir.empty()) return;
  if (!driver.starts_with("linux:"))
    throw UsageError(
        fmt::format("--coverage: driver '{}' is not a linux: driver; coverage "
                    "instruments the kernel's files of linux:FORMAT drivers",
                    driver));
  try {
    conform::start_linux_coverage(dir);
  } catch (const conform::LinuxCoverageError& e) {
    throw UsageError(e.what());
  }
}

void finish_coverage(const std::string& dir) {
  if (dir.empty()) return;
  try {
    for (const conform::FileCoverage& f : conform::write_linux_coverage_report())
      fmt::print("coverage: {}\n", conform::coverage_line(f));
  } catch (const conform::LinuxCoverageError& e) {
    throw UsageError(e.what());
  }
  fmt::print("coverage report: {}\n", (std::filesystem::absolute(dir) / "index.html").string());
}

}  // namespace iommu::cli
