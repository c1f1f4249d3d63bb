// `--report DIR` on check, mutants and diff (docs/CLI.md, "Reports"): what a run did, gathered
// while it runs and written at its end as DIR/index.html, a page that needs nothing outside DIR
// (its plots are drawn by Chart.js, copied into DIR from Debian's libjs-chart.js).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cli/finding_file.h"
#include "conform/campaign.h"
#include "conform/registry.h"

namespace CLI {
class App;
}
namespace iommu::conform {
struct MutantKill;
}

namespace iommu::cli {

struct ReportFinding {
  std::string domain;  // the IOMMU model and invalidation it was found in
  std::string signature;
  std::string check;
  std::string message;
  uint64_t seed = 0;
  bool known = false;      // listed in the baseline
  std::string trace = {};  // the minimized trace's text (docs/TRACES.md)
  // What `iommucheck replay` shows of the trace: per op, its line and the ref, driver and
  // device outcome. `failing_op`: the index of the op that failed, if the replay failed.
  std::vector<std::pair<std::string, std::string>> replay = {};
  std::optional<size_t> failing_op = {};
  std::string replay_verdict = {};  // the replay's VIOLATION line, or why it did not fail
  // The failing op's first iova as the device then sees it: the table walk level by level and
  // the IOTLB's entries (conform::StepResult::device).
  std::string device = {};
};

struct ReportMutant {
  std::string name;
  std::string result;      // killed, SURVIVED, clean, n/a
  std::string check = {};  // the check that killed it
  double seconds = 0;
  uint64_t ops = 0;
  std::string models;
  std::string message;  // the violation, or why it does not apply
};

struct ReportDifference {
  std::string kind;
  uint64_t ops_differing = 0;
  uint64_t episodes = 0;
  std::vector<std::string> ops = {};  // the shortest trace, one op a line
  std::string old_side, new_side;
};

// Everything the page shows; report_html() only formats it.
struct ReportData {
  std::string title;  // e.g. "check plugin:./bug.so"
  std::vector<std::pair<std::string, std::string>> config;
  std::vector<std::pair<std::string, std::string>> summary;
  std::vector<std::pair<double, uint64_t>> timeline;  // (seconds since the start, ops done)
  std::map<std::string, uint64_t, std::less<>> op_mix;
  std::vector<ReportFinding> findings;
  std::vector<ReportMutant> mutants;
  std::vector<ReportDifference> differences;
  bool coverage_built = false;  // --coverage was given
  // (seconds since the start, lines of the kernel's files run so far), sampled during the run.
  std::vector<std::pair<double, uint64_t>> coverage_timeline;
  std::string coverage_json;  // gcovr's JSON (coverage.json), when it was
  std::string coverage_note;  // why there is no coverage, or where its full report is
};

// The page: HTML that loads chart.min.js from its own directory and draws every plot from the
// data embedded in it; each plot's canvas gets data-rendered="N" (N: the points drawn) once
// drawn, and the body data-plots="N" once every plot is.
std::string report_html(const ReportData& d);

// JSON string literal, safe inside a <script> element (no "</" survives).
std::string json_string(std::string_view s);

// Gathers a run's ReportData; inert when no --report was given.
class Report {
 public:
  // `dir` empty: off, every call returns at once. Otherwise DIR is created and must be
  // writable, and Chart.js must be installed: throws UsageError naming the problem.
  Report(std::string dir, std::string title);
  bool on() const { return !dir_.empty(); }

  void config(std::string key, std::string value);
  void summary(std::string key, std::string value);
  // Starts a domain (a --matrix cell): its ops count on from the ops before it.
  void start_domain();
  // The ops the current domain has done; thread-safe.
  void sample(uint64_t ops);
  void add_op_mix(const std::map<std::string, uint64_t, std::less<>>& mix);
  void add(ReportFinding f);
  void add(ReportMutant m);
  void add(ReportDifference d);
  // The lines of the driver's source run so far; thread-safe.
  void coverage_sample(uint64_t lines);
  // After finish_coverage: gcovr's JSON in `coverage_dir`, or the note that coverage was not
  // built (`coverage_dir` empty).
  void coverage(const std::string& coverage_dir);

  // Writes DIR/index.html and DIR/chart.min.js and prints where on stderr (stdout's last line
  // stays the summary); throws UsageError when it cannot. Does nothing when off.
  void write();

 private:
  std::string dir_;
  ReportData data_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  uint64_t base_ = 0;  // ops of the domains before the current one
  uint64_t last_ = 0;  // the last sample's total
};

// With --coverage and --report: the lines of the kernel's files run so far, sampled by gcovr
// while the campaign runs, after 0.25, 0.5, 1, 2, ... seconds (an hour: 14 gcovr runs).
class CoverageSampler {
 public:
  CoverageSampler(Report& report, bool on);
  ~CoverageSampler();
  CoverageSampler(const CoverageSampler&) = delete;
  CoverageSampler& operator=(const CoverageSampler&) = delete;
  // After finish_coverage: stops sampling and takes the run's last sample.
  void finish();

 private:
  void stop();
  void sample();
  Report& report_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// A finding as the page shows it: its trace's text, and the trace replayed (as `iommucheck
// replay` does, the device's accesses recorded) up to the failing op.
ReportFinding report_finding_data(const FindingTarget& target, const conform::DriverSource& src,
                                  const conform::Finding& f, uint64_t seed);

// A mutant's row: killed, SURVIVED, or with `unmutated` (the control run) clean.
ReportMutant mutant_row(std::string_view name, std::string_view models,
                        const conform::MutantKill& k, bool unmutated);

// Adds --report DIR to a command.
void add_report_option(CLI::App* cmd, std::string& dir);

}  // namespace iommu::cli
