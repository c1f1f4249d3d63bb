// The console report of a bench program, followed by the comparison it is run for: per
// workload, the median time of each column over the repetitions with its spread, and the ratio
// of the base column's median to each other column's (bench/linux_bench.cc: impl's CPU time
// over each linux: driver's; bench/dma_flush_bench.cc: strict's time over each flush queue's,
// i.e. the queue's throughput relative to strict; bench/iopt_attach_bench.cc: a per-page
// fill's time over a fill in runs).
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace iommu::bench {

// How the comparison reads; empty fields take linux_bench's wording.
struct RatioText {
  std::string heading;  // the line above the comparison
  std::string ratio;    // each line's ratio, e.g. "impl/linux"
  // Real time instead of CPU time: the figure of benchmarks that set their own iteration time
  // (UseManualTime), such as CPU time plus a simulated cost.
  bool real_time = false;
  // User counters printed after the ratio, by name, when a run has them.
  std::vector<std::string> counters;
};

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // `base` is the column every other is compared with ("impl").
  // Colours only on a terminal, so that a report written to a file reads as text.
  explicit RatioReporter(std::string base, RatioText text = {});

  // Declares that the benchmark registered as `name` runs `workload` on `column`.
  void expect(const std::string& name, const std::string& workload, const std::string& column);

  void ReportRuns(const std::vector<Run>& runs) override;
  // Benchmarks that ended in an error (a tree that did not build, a driver call that failed).
  size_t errors() const { return errors_; }
  void Finalize() override;

 private:
  struct Figures {
    std::vector<double> ns;       // time per iteration, one per repetition
    double median_aggregate = 0;  // when only aggregates are reported
    std::map<std::string, double> counters;
    std::string error;
  };
  struct Cell {
    std::string workload, column;
  };

  void print_workload(const std::string& workload);

  std::string base_;
  RatioText text_;
  size_t errors_ = 0;
  std::vector<std::string> workloads_, columns_;                    // in the order declared
  std::map<std::string, Cell> cells_;                               // by benchmark name
  std::map<std::pair<std::string, std::string>, Figures> figures_;  // by (workload, column)
};

// Runs the registered benchmarks through `reporter` and ends Google Benchmark: a bench
// program's exit code, 1 if a benchmark ended in an error.
int run_benchmarks(RatioReporter& reporter);

}  // namespace iommu::bench
