// Progress on stderr for long runs (docs/CLI.md, "Progress"): a line rewritten in place on a
// terminal, one line every few seconds in a log, each with the count, the rate and an estimate
// of the time left. Never on stdout, which carries the results.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace iommu::cli {

class Progress {
 public:
  // total 0: unknown (a run bounded by time, given as `seconds`, or by nothing). `unit` names
  // what is counted when it is not ops ("mutants", "properties").
  Progress(std::string what, uint64_t total, std::optional<double> seconds = std::nullopt,
           std::string unit = "");
  void update(uint64_t done);
  // The same with what is being worked on now (a mutant's name), shown after the count.
  void update(uint64_t done, const std::string& now);
  // A line about something else than the count (a minimization), rate-limited as update().
  void status(const std::string& text);
  void finish();  // ends the line on a terminal
  double seconds() const;

  // The line update() prints, without the terminal's control characters: for tests.
  static std::string line(const std::string& what, uint64_t done, uint64_t total,
                          std::optional<double> budget, const std::string& unit, double seconds);

 private:
  std::string what_, unit_;
  uint64_t total_;
  std::optional<double> budget_;
  bool tty_;
  std::chrono::steady_clock::duration interval_;
  bool printed_ = false;
  bool due();  // whether a line may be printed now
  void print(const std::string& text);

  std::chrono::steady_clock::time_point start_, last_;
};

// "1m05s", "2h03m", "12s": a duration as a person reads it.
std::string duration_text(double seconds);

// From now on, every build of linux: drivers (conform/linux_build.h) shows its steps, N of M,
// as a progress line of its own.
void show_linux_build_progress();

}  // namespace iommu::cli
