#include "conform/trace.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace iommu::conform {
namespace {

std::string error_text(const std::string& file, size_t line, const std::string& reason) {
  if (line == 0) return fmt::format("{}: {}", file, reason);
  return fmt::format("{}:{}: {}", file, line, reason);
}

}  // namespace

TraceError::TraceError(std::string file, size_t line, std::string reason)
    : std::runtime_error(error_text(file, line, reason)),
      file_(std::move(file)),
      line_(line),
      reason_(std::move(reason)) {}

bool same_config(const ref::DomainConfig& a, const ref::DomainConfig& b) {
  return a.pgsize_bitmap == b.pgsize_bitmap && a.ias == b.ias && a.oas == b.oas &&
         a.partial_unmap == b.partial_unmap && a.np_caching == b.np_caching &&
         a.invalidation == b.invalidation;
}

bool Trace::operator==(const Trace& o) const {
  bool configs = config.has_value() == o.config.has_value() &&
                 (!config || same_config(*config, *o.config));
  return driver == o.driver && configs && iommu == o.iommu && seed == o.seed && ops == o.ops;
}

Trace read_trace_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw TraceError(path, 0, "cannot open trace: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path, 0, fmt::format("cannot open trace: {}", std::strerror(errno)));
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) throw TraceError(path, 0, "cannot read trace");
  return parse_trace(text, path);
}

void write_trace_file(const std::string& path, const Trace& trace, std::string_view comment) {
  std::string text = format_trace(trace, comment);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw TraceError(path, 0, fmt::format("cannot write trace: {}", std::strerror(errno)));
  out << text;
  out.flush();
  if (!out) throw TraceError(path, 0, "cannot write trace");
}

}  // namespace iommu::conform
