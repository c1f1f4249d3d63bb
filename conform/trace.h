// Traces: a campaign's ops as plain text a person can read and edit, one op per line, after a
// header of directives (driver, config, iommu, seed). The printed form of a Trace always parses back
// to the same Trace. The format is specified in docs/TRACES.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conform/iommu_choice.h"
#include "conform/op.h"
#include "ref/config.h"

namespace iommu::conform {

struct Trace {
  std::optional<std::string> driver;  // e.g. "impl:arm-64-lpae-s1-4k"
  std::optional<ref::DomainConfig> config;
  std::optional<IommuKind> iommu;  // nullopt: the checker's default for the driver
  std::optional<uint64_t> seed;
  std::vector<Op> ops;

  bool operator==(const Trace& o) const;
};

bool same_config(const ref::DomainConfig& a, const ref::DomainConfig& b);

// A trace that cannot be read: what() is "FILE:LINE: REASON" ("FILE: REASON" when the problem
// is not on a line, e.g. the file cannot be opened).
class TraceError : public std::runtime_error {
 public:
  TraceError(std::string file, size_t line, std::string reason);

  const std::string& file() const { return file_; }
  size_t line() const { return line_; }  // 1-based; 0 when not about a line
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  size_t line_;
  std::string reason_;
};

// Parses trace text; `file` names it in errors. Throws TraceError at the first problem. A UTF-8
// byte order mark at the start (an editor's) is skipped.
Trace parse_trace(std::string_view text, std::string_view file = "<trace>");
// Reads and parses a trace file; throws TraceError naming the path when it cannot be opened.
Trace read_trace_file(const std::string& path);

// One op as its trace line, e.g. "map iova=0x200000 paddr=0x40000000 size=4M prot=rw".
std::string format_op(const Op& op);
// The whole trace: `comment` (may be several lines) first as '#' lines, then the directives
// that are set, then one line per op. Throws std::invalid_argument for a driver name that the
// format cannot carry (empty, or with whitespace, '#' or control characters).
std::string format_trace(const Trace& trace, std::string_view comment = {});
// Why format_trace cannot carry this driver name, or empty when it can.
std::string driver_name_problem(std::string_view name);

// format_trace into a file, atomically (a temporary file renamed over `path`): a reader sees
// the old file or the whole new one. Throws TraceError naming the path when it cannot write.
void write_trace_file(const std::string& path, const Trace& trace, std::string_view comment = {});

// Writes a new file `dir/STEM.trace`, or `dir/STEM-2.trace`, `-3`, ... when that name is taken:
// an existing file is never replaced, even by a concurrent writer. The comment is made for the
// name chosen (it may say how to replay the file). Returns the path; throws TraceError.
std::string create_trace_file(const std::string& dir, const std::string& stem, const Trace& trace,
                              const std::function<std::string(const std::string&)>& comment);
// The same for any trace dialect: `text(path)` is the whole file for the name chosen.
std::string create_trace_file(const std::string& dir, const std::string& stem,
                              const std::function<std::string(const std::string&)>& text);

}  // namespace iommu::conform
