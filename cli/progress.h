// Progress on stderr for long runs: a line rewritten in place on a terminal, one line every few
// seconds in a log.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace iommu::cli {

class Progress {
 public:
  // total 0: unknown (a run bounded by time).
  Progress(std::string what, uint64_t total);
  void update(uint64_t done);
  // A line about something else than ops (a minimization), rate-limited as update().
  void status(const std::string& text);
  void finish();  // ends the line on a terminal
  double seconds() const;

 private:
  std::string what_;
  uint64_t total_;
  bool tty_;
  bool due();  // whether a line may be printed now

  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace iommu::cli
