// Known findings (`check --baseline FILE`, docs/LINUX.md "Baselines"): real behaviour of a
// driver that the checker rightly flags, recorded so that a run fails only on what is new.
// That is how a driver change is judged: no new finding against the old tree's baseline.
//
// The file is line-based text:
//   # a comment: the kernel line and the docs/LINUX.md section of the entry below
//   known DRIVER SIGNATURE
// DRIVER is the --driver name (linux:arm-v7s); SIGNATURE is a finding's signature as `check`
// prints it (conform/signature.h, numbers masked as #). In both, * matches any run of
// characters (linux:arm-64-*, "... with perms *; ..."): one entry per bug, not per instance.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace iommu::conform {

// A malformed baseline: the message names FILE:LINE and what is wrong.
struct BaselineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BaselineEntry {
  std::string driver;     // a pattern: * matches any run of characters
  std::string signature;  // a pattern too
  size_t line = 0;        // 1-based, in the file
};

class Baseline {
 public:
  Baseline() = default;
  // Throws BaselineError for an unreadable or malformed file.
  static Baseline load(const std::string& path);
  static Baseline parse(const std::string& text, const std::string& path);

  // The entry that makes `signature` of `driver` known, or nullptr.
  const BaselineEntry* find(const std::string& driver, const std::string& signature) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<BaselineEntry> entries_;
};

}  // namespace iommu::conform
