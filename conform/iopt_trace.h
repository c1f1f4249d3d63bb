// The iopt trace dialect: an `iopt:` campaign's operations (conform/iopt_checker.h) as plain
// text, one per line after a header of directives (driver, domains, layout, config, mutant,
// seed), so that `check --driver iopt:...` findings replay. Specified in docs/IOPT.md; the
// printed form always parses back to the same IoptTrace. Errors are TraceError
// ("FILE:LINE: REASON"), as for page-table traces.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conform/iopt_checker.h"

namespace iommu::conform {

struct IoptTrace {
  std::optional<std::string> driver;  // "iopt:arm-64-lpae-s1-4k", as `check --driver` names it
  unsigned domains = 3;               // attachable domains of that driver
  std::vector<iopt::PfnRun> layout;   // the user memory; empty: IoptScenario's default
  size_t batch_runs = iopt::IoptConfig{}.batch_runs;
  uint64_t pin_chunk = iopt::IoptConfig{}.pin_chunk;
  iopt::Mutant mutant = iopt::Mutant::kNone;
  std::optional<uint64_t> seed;
  std::vector<IoptOp> ops;
  bool operator==(const IoptTrace&) const = default;
};

// The trace of a scenario's run (its layout and config; the driver and seed are the caller's).
IoptTrace iopt_trace_of(const IoptScenario& scenario, std::vector<IoptOp> ops);
// The scenario a trace describes, its domains all of `driver`.
IoptScenario iopt_scenario_of(const IoptTrace& trace, const DriverSource& driver);

// One op as its trace line, e.g. "map_user iova=0x100000 uva=0x3000 length=0x4000 prot=3".
std::string format_iopt_op(const IoptOp& op);
// `comment` (may be several lines) as '#' lines, the directives, then one line per op.
std::string format_iopt_trace(const IoptTrace& trace, std::string_view comment = {});
// Throws TraceError at the first problem, naming `file` and the line.
IoptTrace parse_iopt_trace(std::string_view text, std::string_view file = "<trace>");
IoptTrace read_iopt_trace_file(const std::string& path);
// Whether the file is in this dialect: its `driver` directive names an iopt: driver. False
// for a file that cannot be read (the caller's reader reports that).
bool is_iopt_trace_file(const std::string& path);

}  // namespace iommu::conform
