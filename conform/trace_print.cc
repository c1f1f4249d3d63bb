// The trace printer: the canonical text of each op and of a whole trace.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "base/prot.h"
#include "conform/trace.h"
#include "conform/trace_text.h"

namespace iommu::conform {
namespace {

// Appends " key=value" for every field that is set.
class FieldWriter {
 public:
  explicit FieldWriter(std::string& out) : out_(out) {}

  void operator()(std::string_view key, uint64_t v, FieldKind kind) {
    if (kind == FieldKind::kSize) return put(key, text::format_size(v));
    if (kind == FieldKind::kCount) return put(key, fmt::format("{}", v));
    put(key, text::format_addr(v));
  }
  void operator()(std::string_view key, int prot, FieldKind) { put(key, prot_to_string(prot)); }
  void operator()(std::string_view key, GatherLabel g, FieldKind) {
    put(key, fmt::format("{}", g));
  }
  void operator()(std::string_view key, const std::optional<GatherLabel>& g, FieldKind kind) {
    if (g) (*this)(key, *g, kind);
  }
  void operator()(std::string_view key, bool flag, FieldKind) {
    if (flag) put(key, "1");
  }
  void operator()(std::string_view key, const std::vector<ref::Segment>& segs, FieldKind) {
    put(key, text::format_segments(segs));
  }

 private:
  void put(std::string_view key, std::string_view value) {
    fmt::format_to(std::back_inserter(out_), " {}={}", key, value);
  }
  std::string& out_;
};

void append_comment(std::string& out, std::string_view comment) {
  while (!comment.empty()) {
    size_t nl = comment.find('\n');
    std::string_view line = comment.substr(0, nl);
    out += line.empty() ? "#\n" : fmt::format("# {}\n", line);
    comment.remove_prefix(nl == std::string_view::npos ? comment.size() : nl + 1);
  }
}

}  // namespace

std::string driver_name_problem(std::string_view name) {
  bool ok = !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '#' || text::is_forbidden_char(c);
  });
  if (ok) return {};
  return fmt::format("driver name '{}' cannot be written to a trace: it must be one word without "
                     "'#' or control characters",
                     name);
}

std::string format_op(const Op& op) {
  std::string out(op_name(op));
  for_each_field(op, FieldWriter(out));
  return out;
}

std::string format_trace(const Trace& trace, std::string_view comment) {
  std::string out;
  append_comment(out, comment);
  if (trace.driver) {
    if (auto problem = driver_name_problem(*trace.driver); !problem.empty())
      throw std::invalid_argument(problem);
    out += fmt::format("driver {}\n", *trace.driver);
  }
  if (trace.config) out += fmt::format("config {}\n", ref::describe(*trace.config));
  if (trace.iommu) out += fmt::format("iommu {}\n", iommu_name(*trace.iommu));
  if (trace.seed) out += fmt::format("seed {}\n", *trace.seed);
  for (const Op& op : trace.ops) out += format_op(op) + "\n";
  return out;
}

}  // namespace iommu::conform
