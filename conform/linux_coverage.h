// Coverage of the kernel's io-pgtable files run as linux: drivers (`check --coverage DIR`,
// docs/LINUX.md "Coverage"): the files are built with gcc --coverage, every process that runs
// them writes its counters under DIR/gcda, and gcovr turns them into a line and branch report.
// Process-wide, like the GCOV_PREFIX it sets: one report per run, of one kernel tree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace iommu::conform {

// DIR cannot be written, gcovr is missing or fails, or a second tree joins the run.
struct LinuxCoverageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FileCoverage {
  std::string file;  // relative to the tree, e.g. drivers/iommu/io-pgtable-arm.c
  uint64_t lines = 0;
  uint64_t lines_covered = 0;
  uint64_t branches = 0;
  uint64_t branches_covered = 0;
};

// Makes every linux: driver built from now on instrumented, its counters going to DIR/gcda
// (emptied). Call before any campaign thread starts. Throws LinuxCoverageError when DIR cannot
// be created or written or gcovr is not on PATH.
void start_linux_coverage(const std::filesystem::path& dir);
bool linux_coverage_on();

// A coverage build (cache entry `entry`) whose plugin `so` is loaded in this process: every
// isolated child flushes its counters before it exits. Throws LinuxCoverageError when the run
// already covers another tree (their .gcda files would collide).
void add_linux_coverage_plugin(const std::filesystem::path& entry, const std::filesystem::path& so);

// After the run: flushes this process's counters, writes DIR/index.html (per-file pages with
// each line's and branch's counts), DIR/coverage.json (gcovr's per-line JSON), DIR/summary.csv
// and DIR/summary.txt, and returns the kernel's io-pgtable files' figures. Throws
// LinuxCoverageError when no linux: driver ran or gcovr fails.
std::vector<FileCoverage> write_linux_coverage_report();

// While the run goes on: the kernel's files' figures from the counters written so far (each
// isolated child writes its own when it ends), gcovr's CSV only. Empty when no linux: driver
// was built yet or gcovr fails (a counters file half written): a sample to skip, not an error.
std::vector<FileCoverage> linux_coverage_snapshot();

// "drivers/iommu/io-pgtable-arm.c: lines 812/1003 (81.0%), branches 400/560 (71.4%)".
std::string coverage_line(const FileCoverage& f);

}  // namespace iommu::conform
