#include "cli/report.h"

#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "cli/text.h"
#include "conform/linux_coverage.h"
#include "conform/mutants.h"
#include "conform/trace.h"

#ifndef IOMMUCHECK_CHARTJS
#define IOMMUCHECK_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#endif

namespace iommu::cli {
namespace fs = std::filesystem;
namespace {

constexpr const char* kChartJs = IOMMUCHECK_CHARTJS;
// A long campaign samples its progress thousands of times a second; the plot needs far fewer.
constexpr double kMinSampleGap = 0.05;
constexpr size_t kMaxSamples = 2000;
// The replay shown for a finding: a minimized trace is short, an unminimized one is cut.
constexpr size_t kMaxReplayOps = 400;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The child of an isolated replay keeps only stdio open, and flushes stdout after each op:
// for the replay, stdout is the file its observer's lines are gathered in. Campaign threads
// have ended by then, so nothing else prints to it meanwhile.
class StdoutTo {
 public:
  explicit StdoutTo(std::FILE* f) : saved_(dup(STDOUT_FILENO)) {
    std::fflush(stdout);
    if (saved_ >= 0) dup2(fileno(f), STDOUT_FILENO);
  }
  ~StdoutTo() {
    std::fflush(stdout);
    if (saved_ < 0) return;
    dup2(saved_, STDOUT_FILENO);
    close(saved_);
  }
  StdoutTo(const StdoutTo&) = delete;
  StdoutTo& operator=(const StdoutTo&) = delete;

 private:
  int saved_;
};

std::string read_back(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  return text;
}

std::string value_text(int64_t v) { return v < 0 ? fmt::format("{}", v) : fmt::format("{:#x}", v); }

// The observer's record: one op per line, "INDEX\tOP\tOUTCOME\tDEVICE" (tabs and newlines
// escaped by printable()).
void parse_replay(const std::string& text, ReportFinding& r) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find('\t'), b = line.find('\t', a + 1), c = line.find('\t', b + 1);
    if (a == line.npos || b == line.npos || c == line.npos) continue;
    r.replay.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1));
    if (c + 1 < line.size()) r.device = line.substr(c + 1);
  }
}

}  // namespace

Report::Report(std::string dir, std::string title) : dir_(std::move(dir)) {
  data_.title = std::move(title);
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!ec && !fs::is_directory(dir_, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw UsageError(fmt::format("--report {}: {}", dir_, ec.message()));
  if (access(dir_.c_str(), W_OK | X_OK) != 0)
    throw UsageError(fmt::format("--report {}: {}", dir_, std::strerror(errno)));
  if (!fs::is_regular_file(kChartJs))
    throw UsageError(
        fmt::format("--report draws its plots with Chart.js, which is not at {} "
                    "(Debian package libjs-chart.js; scripts/install-deps.sh)",
                    kChartJs));
}

void Report::config(std::string key, std::string value) {
  if (on()) data_.config.emplace_back(std::move(key), std::move(value));
}

void Report::summary(std::string key, std::string value) {
  if (on()) data_.summary.emplace_back(std::move(key), std::move(value));
}

void Report::start_domain() {
  if (!on()) return;
  {
    std::lock_guard lock(mu_);
    base_ = last_;
    // The time axis starts with the first op, not with a build of the driver before it.
    if (data_.timeline.empty()) start_ = std::chrono::steady_clock::now();
  }
  sample(0);
}

void Report::sample(uint64_t ops) {
  if (!on()) return;
  std::lock_guard lock(mu_);
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  last_ = std::max(last_, base_ + ops);
  auto& tl = data_.timeline;
  if (!tl.empty() && t - tl.back().first < kMinSampleGap) {
    tl.back().second = last_;  // the point moves on rather than a new one crowding it
    return;
  }
  tl.emplace_back(t, last_);
  if (tl.size() > kMaxSamples) {  // every other point goes: the plot keeps its shape
    std::vector<std::pair<double, uint64_t>> half;
    for (size_t i = 0; i < tl.size(); i += 2) half.push_back(tl[i]);
    tl = std::move(half);
  }
}

void Report::add_op_mix(const std::map<std::string, uint64_t, std::less<>>& mix) {
  if (!on()) return;
  std::lock_guard lock(mu_);
  for (const auto& [name, n] : mix) data_.op_mix[name] += n;
}

void Report::add(ReportFinding f) {
  if (on()) data_.findings.push_back(std::move(f));
}
void Report::add(ReportMutant m) {
  if (on()) data_.mutants.push_back(std::move(m));
}
void Report::add(ReportDifference d) {
  if (on()) data_.differences.push_back(std::move(d));
}

void Report::coverage_sample(uint64_t lines) {
  if (!on()) return;
  std::lock_guard lock(mu_);
  data_.coverage_timeline.emplace_back(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(), lines);
}

CoverageSampler::CoverageSampler(Report& report, bool on) : report_(report) {
  if (!on || !report.on()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    for (auto wait = std::chrono::milliseconds(250); !stop_; wait *= 2) {
      if (wake_.wait_for(lock, wait, [this] { return stop_; })) break;
      lock.unlock();
      sample();
      lock.lock();
    }
  });
}

CoverageSampler::~CoverageSampler() { stop(); }

void CoverageSampler::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CoverageSampler::finish() {
  const bool sampling = thread_.joinable();
  stop();
  if (sampling) sample();
}

void CoverageSampler::sample() {
  const std::vector<conform::FileCoverage> files = conform::linux_coverage_snapshot();
  if (files.empty()) return;
  uint64_t lines = 0;
  for (const conform::FileCoverage& f : files) lines += f.lines_covered;
  report_.coverage_sample(lines);
}

void Report::coverage(const std::string& coverage_dir) {
  if (!on()) return;
  if (coverage_dir.empty()) {
    data_.coverage_note =
        "Coverage was not built: run check with --coverage DIR on a linux: driver "
        "(docs/LINUX.md) to see the driver's source coverage here.";
    return;
  }
  data_.coverage_built = true;
  const fs::path json = fs::path(coverage_dir) / "coverage.json";
  data_.coverage_json = read_file(json);
  data_.coverage_note = fmt::format("gcovr's full line and branch report: {}",
                                    fs::absolute(fs::path(coverage_dir) / "index.html").string());
  if (data_.coverage_json.empty())
    data_.coverage_note = fmt::format("{} is empty or cannot be read", json.string());
}

void Report::write() {
  if (!on()) return;
  const fs::path dir(dir_);
  std::error_code ec;
  fs::copy_file(kChartJs, dir / "chart.min.js", fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw UsageError(fmt::format("--report {}: copying {}: {}", dir_, kChartJs, ec.message()));
  const fs::path page = dir / "index.html";
  std::ofstream out(page, std::ios::binary | std::ios::trunc);
  out << report_html(data_);
  out.close();
  if (!out) throw UsageError(fmt::format("--report: cannot write {}", page.string()));
  fmt::print(stderr, "report: {}\n", fs::absolute(page).string());
}

ReportFinding report_finding_data(const FindingTarget& target, const conform::DriverSource& src,
                                  const conform::Finding& f, uint64_t seed) {
  ReportFinding r{.domain = target.iommu ? std::string(conform::iommu_name(*target.iommu)) : "",
                  .signature = f.signature,
                  .check = f.violation.check,
                  .message = f.violation.message(),
                  .seed = seed};
  const conform::Trace trace{.driver = src.info.name,
                             .config = src.info.config,
                             .iommu = target.iommu,
                             .seed = seed,
                             .ops = f.ops};
  r.trace = conform::format_trace(
      trace,
      fmt::format("{}\nfound by check --driver {} --caller {} --seed {}",
                  printable(f.minimized.message()), printable(target.driver), target.caller, seed));
  if (f.ops.size() > kMaxReplayOps) {
    r.replay_verdict = fmt::format("not replayed here: {} ops", f.ops.size());
    return r;
  }
  std::FILE* log = std::tmpfile();
  if (!log) {
    r.replay_verdict = fmt::format("not replayed: no temporary file ({})", std::strerror(errno));
    return r;
  }
  auto observe = [](size_t i, const conform::Op& op, const conform::StepResult& s) {
    fmt::print("{}\t{}\t{}\t{}\n", i, printable(conform::format_op(op)),
               printable(fmt::format("ref={} driver={}{}", value_text(s.ref), value_text(s.driver),
                                     s.hw.empty() ? "" : " hw: " + s.hw)),
               printable(s.device));
    std::fflush(stdout);
  };
  const conform::CheckOptions check{.record_hw = true, .iommu = target.iommu};
  try {
    std::optional<conform::Violation> v;
    {
      const StdoutTo redirect(log);
      v = conform::runs_isolated(src.info)
              ? conform::replay_isolated(src, f.ops, check, {}, observe)
              : conform::replay_ops(src, f.ops, check, observe);
    }
    parse_replay(read_back(log), r);
    if (v) {
      r.failing_op = v->op_index;
      r.replay_verdict = "VIOLATION: " + printable(v->message());
    } else {
      r.replay_verdict = "the replay did not fail (a nondeterministic driver?)";
    }
  } catch (const std::exception& e) {
    parse_replay(read_back(log), r);
    r.replay_verdict = fmt::format("the replay stopped: {}", printable(e.what()));
  }
  std::fclose(log);
  return r;
}

ReportMutant mutant_row(std::string_view name, std::string_view models,
                        const conform::MutantKill& k, bool unmutated) {
  return {
      .name = std::string(name),
      .result = k.killed    ? "killed"
                : unmutated ? "clean"
                            : "SURVIVED",
      .check = k.killed ? k.check : "",
      .seconds = k.seconds,
      .ops = k.ops,
      .models = std::string(models),
      .message = k.killed ? fmt::format("{} (minimized to {} ops)", k.violation, k.trace_ops) : ""};
}

void add_report_option(CLI::App* cmd, std::string& dir) {
  cmd->add_option("--report", dir,
                  "Write an HTML report of the run into this directory (index.html: the "
                  "configuration, findings with their traces and replays, plots)");
}

}  // namespace iommu::cli
