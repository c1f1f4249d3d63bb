#include "cli/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <string>

namespace iommu::cli {

Progress::Progress(std::string what, uint64_t total)
    : what_(std::move(what)),
      total_(total),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

bool Progress::due() {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5);
  if (now - last_ < interval) return false;
  last_ = now;
  return true;
}

void Progress::status(const std::string& text) {
  if (!due()) return;
  fmt::print(stderr, "{}{}: {} {:.1f}s{}", tty_ ? "\r\x1b[K" : "", what_, text, seconds(),
             tty_ ? "" : "\n");
}

void Progress::update(uint64_t done) {
  if (!due()) return;
  const double s = seconds();
  const std::string count =
      total_ == 0 ? fmt::format("{}", done)
                  : fmt::format("{}/{} ({:.0f}%)", done, total_,
                                100.0 * static_cast<double>(done) / static_cast<double>(total_));
  fmt::print(stderr, "{}{}: {} {:.1f}s {:.0f}/s{}", tty_ ? "\r\x1b[K" : "", what_, count, s,
             static_cast<double>(done) / s, tty_ ? "" : "\n");
}

void Progress::finish() {
  if (tty_ && last_ != start_) fmt::print(stderr, "\n");
}

}  // namespace iommu::cli
