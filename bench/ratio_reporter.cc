#include "bench/ratio_reporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

namespace iommu::bench {
namespace {

struct Spread {
  double median = 0, min = 0, max = 0;
  size_t n = 0;
};

Spread spread(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {median, v.front(), v.back(), n};
}

std::string bytes(double b) {
  if (b >= 1 << 20) return fmt::format("{:.1f} MiB", b / (1 << 20));
  return fmt::format("{:.1f} KiB", b / 1024);
}

}  // namespace

RatioReporter::RatioReporter(std::string base, RatioText text)
    : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular),
      base_(std::move(base)),
      text_(std::move(text)) {
  if (text_.heading.empty()) {
    text_.heading = base_ +
                    " against each linux: driver, CPU ns per iteration: the median of the " +
                    "repetitions [fastest .. slowest]; ratio " + base_ +
                    "/linux: of the medians [range over the repetitions]";
  }
  if (text_.ratio.empty()) text_.ratio = base_ + "/linux";
}

void RatioReporter::expect(const std::string& name, const std::string& workload,
                           const std::string& column) {
  cells_[name] = {workload, column};
  if (std::find(workloads_.begin(), workloads_.end(), workload) == workloads_.end())
    workloads_.push_back(workload);
  if (std::find(columns_.begin(), columns_.end(), column) == columns_.end())
    columns_.push_back(column);
}

// Every benchmark is registered with nanoseconds as its unit, so times need no conversion.
void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  auto time = [this](const Run& run) {
    return text_.real_time ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime();
  };
  for (const Run& run : runs) {
    errors_ += run.error_occurred;
    auto cell = cells_.find(run.run_name.function_name);
    if (cell == cells_.end()) continue;
    Figures& f = figures_[{cell->second.workload, cell->second.column}];
    if (run.error_occurred) {
      f.error = run.error_message;
    } else if (run.run_type == Run::RT_Iteration) {
      f.ns.push_back(time(run));
      for (const auto& [name, counter] : run.counters) f.counters[name] = counter.value;
    } else if (run.aggregate_name == "median") {
      f.median_aggregate = time(run);
      for (const auto& [name, counter] : run.counters) f.counters[name] = counter.value;
    }
  }
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  std::ostream& out = GetOutputStream();
  out << "\n" << text_.heading << "\n";
  for (const std::string& w : workloads_) {
    auto ran = [&](const std::string& c) { return figures_.count({w, c}) > 0; };
    if (std::any_of(columns_.begin(), columns_.end(), ran)) print_workload(w);
  }
  if (errors_) out << errors_ << " benchmark run(s) ended in an error (above): exit 1\n";
}

void RatioReporter::print_workload(const std::string& workload) {
  std::ostream& out = GetOutputStream();
  out << workload << "\n";
  auto figures = [&](const std::string& column) -> const Figures* {
    auto it = figures_.find({workload, column});
    return it == figures_.end() ? nullptr : &it->second;
  };
  auto spread_of = [](const Figures& f) {
    Spread s = spread(f.ns);
    if (s.n == 0 && f.median_aggregate > 0)
      s = {f.median_aggregate, f.median_aggregate, f.median_aggregate, 1};
    return s;
  };
  const Figures* base = figures(base_);
  const Spread b = base ? spread_of(*base) : Spread{};
  for (const std::string& column : columns_) {
    const Figures* f = figures(column);
    if (!f) continue;
    std::string line = fmt::format("  {:<22}", column);
    const Spread s = spread_of(*f);
    if (!f->error.empty() || s.n == 0) {
      out << line << (f->error.empty() ? "no figure" : "error: " + f->error) << "\n";
      continue;
    }
    line += fmt::format("{:>9.0f} ns [{:.0f} .. {:.0f}] x{}", s.median, s.min, s.max, s.n);
    if (column != base_ && b.n > 0) {
      line += fmt::format("   {} {:.2f} [{:.2f} .. {:.2f}]", text_.ratio, b.median / s.median,
                          b.min / s.max, b.max / s.min);
    }
    if (auto peak = f->counters.find("peak_table_bytes"); peak != f->counters.end()) {
      line += "   peak tables " + bytes(peak->second);
      if (column != base_ && base && base->counters.count("peak_table_bytes"))
        line += fmt::format(" ({:.0f}x {}'s)", peak->second / base->counters.at("peak_table_bytes"),
                            base_);
    }
    for (const std::string& name : text_.counters)
      if (auto c = f->counters.find(name); c != f->counters.end())
        line += fmt::format("   {} {:.4g}", name, c->second);
    out << line << "\n";
  }
}

int run_benchmarks(RatioReporter& reporter) {
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() ? 1 : 0;
}

}  // namespace iommu::bench
