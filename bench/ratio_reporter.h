// The console report of bench/linux_bench.cc, followed by the comparison it is run for: per
// workload, the median CPU time of each driver over the repetitions with its spread, and the
// ratio of impl's to each linux: driver's.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace iommu::bench {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // `base` is the column every other is compared with ("impl").
  // Colours only on a terminal, so that a report written to a file reads as text.
  explicit RatioReporter(std::string base)
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular),
        base_(std::move(base)) {}

  // Declares that the benchmark registered as `name` runs `workload` on `column`.
  void expect(const std::string& name, const std::string& workload, const std::string& column);

  void ReportRuns(const std::vector<Run>& runs) override;
  // Benchmarks that ended in an error (a tree that did not build, a driver call that failed).
  size_t errors() const { return errors_; }
  void Finalize() override;

 private:
  struct Figures {
    std::vector<double> ns;       // CPU time per iteration, one per repetition
    double median_aggregate = 0;  // when only aggregates are reported
    std::map<std::string, double> counters;
    std::string error;
  };
  struct Cell {
    std::string workload, column;
  };

  void print_workload(const std::string& workload);

  std::string base_;
  size_t errors_ = 0;
  std::vector<std::string> workloads_, columns_;                    // in the order declared
  std::map<std::string, Cell> cells_;                               // by benchmark name
  std::map<std::pair<std::string, std::string>, Figures> figures_;  // by (workload, column)
};

}  // namespace iommu::bench
