// SIGINT and SIGTERM during a long command: the first one sets a flag the command polls, so it
// can stop its jobs and still report what it found; a second one kills as usual.
#pragma once

#include <atomic>
#include <csignal>

namespace iommu::cli {

inline constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  const std::atomic<bool>& flag() const;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

}  // namespace iommu::cli
