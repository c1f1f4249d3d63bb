#include "cli/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "cli/command.h"
#include "conform/linux_build.h"

namespace iommu::cli {
namespace {

// IOMMUCHECK_PROGRESS_SECONDS: how often a log (stderr not a terminal) gets a line; default 5.
std::chrono::steady_clock::duration log_interval() {
  const char* env = std::getenv("IOMMUCHECK_PROGRESS_SECONDS");
  if (env == nullptr || *env == '\0') return std::chrono::seconds(5);
  char* end = nullptr;
  const double s = std::strtod(env, &end);
  if (*end != '\0' || !std::isfinite(s) || s < 0 || s > 86400)
    throw UsageError(
        fmt::format("IOMMUCHECK_PROGRESS_SECONDS={}: not a number of seconds "
                    "from 0 to 86400",
                    env));
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

std::string rate_text(double rate) {
  if (rate >= 100) return fmt::format("{:.0f}", rate);
  if (rate >= 1) return fmt::format("{:.1f}", rate);
  return fmt::format("{:.2f}", rate);
}

}  // namespace

std::string duration_text(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<uint64_t>(seconds);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
}

std::string Progress::line(const std::string& what, uint64_t done, uint64_t total,
                           std::optional<double> budget, const std::string& unit, double seconds) {
  const std::string u = unit.empty() ? "ops" : unit;
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string count = fmt::format("{} {}", done, u);
  std::string eta = "?";
  if (total != 0) {
    count = fmt::format("{}/{} {} ({:.0f}%)", done, total, u,
                        100.0 * static_cast<double>(done) / static_cast<double>(total));
    if (rate > 0) eta = duration_text(static_cast<double>(total - std::min(done, total)) / rate);
  } else if (budget) {
    eta = duration_text(std::max(0.0, *budget - seconds));
  }
  return fmt::format("{}: {}, {}, {} {}/s, ETA {}", what, count, duration_text(seconds),
                     rate_text(rate), u, eta);
}

Progress::Progress(std::string what, uint64_t total, std::optional<double> seconds,
                   std::string unit)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      budget_(seconds),
      tty_(isatty(STDERR_FILENO) != 0),
      interval_(tty_ ? std::chrono::milliseconds(200) : log_interval()),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

bool Progress::due() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval_) return false;
  last_ = now;
  return true;
}

void Progress::print(const std::string& text) {
  printed_ = true;
  fmt::print(stderr, "{}{}{}", tty_ ? "\r\x1b[K" : "", text, tty_ ? "" : "\n");
}

void Progress::status(const std::string& text) {
  if (!due()) return;
  print(fmt::format("{}: {} {}", what_, text, duration_text(seconds())));
}

void Progress::update(uint64_t done) { update(done, ""); }

void Progress::update(uint64_t done, const std::string& now) {
  // On a terminal a new item (a mutant, a property, a build step) shows at once: items are few
  // and slow, and the line should say which one is running.
  if (!due() && !(tty_ && !now.empty())) return;
  const std::string text = line(what_, done, total_, budget_, unit_, seconds());
  print(now.empty() ? text : fmt::format("{}: {}", text, now));
}

void Progress::finish() {
  if (tty_ && printed_) fmt::print(stderr, "\n");
}

void show_linux_build_progress() {
  log_interval();  // a bad IOMMUCHECK_PROGRESS_SECONDS is a usage error before any run
  // Builds run one at a time per process (linux_build.h); the line lives while one runs.
  static std::mutex mu;
  static std::unique_ptr<Progress> line;
  conform::set_linux_build_observer([](const conform::LinuxBuildStep& step) {
    std::lock_guard lock(mu);
    if (step.done == 0)
      line = std::make_unique<Progress>(fmt::format("build {}", step.tree), step.total,
                                        std::nullopt, "steps");
    if (!line) return;
    line->update(step.done, step.what);
    if (step.done == step.total) {
      line->finish();
      line.reset();
    }
  });
}

}  // namespace iommu::cli
