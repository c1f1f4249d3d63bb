#include "cli/finding_file.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/command.h"
#include "cli/text.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

// File names stay well below NAME_MAX (255) whatever the plugin is called.
constexpr size_t kMaxNamePart = 100;

std::string file_safe(std::string_view s) {
  std::string out(s.substr(0, kMaxNamePart));
  std::replace_if(
      out.begin(), out.end(),
      [](char c) {
        return !(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
      },
      '_');
  return out;
}

conform::Trace finding_trace(const FindingTarget& target, const conform::DriverSource& src,
                             const conform::Finding& f, uint64_t seed) {
  return {.driver = src.info.name,
          .config = src.info.config,
          .iommu = target.iommu,
          .seed = seed,
          .ops = f.ops};
}

std::string minimization(const conform::Finding& f) {
  if (f.cut_short.empty())
    return fmt::format("minimized from {} ops in {} replays", f.original_ops, f.minimize_tests);
  return fmt::format("NOT minimized: minimization stopped ({}) after {} replays, {} ops of {} left",
                     f.cut_short, f.minimize_tests, f.ops.size(), f.original_ops);
}

std::string finding_comment(const FindingTarget& target, const conform::Finding& f, uint64_t seed,
                            const std::string& path) {
  return fmt::format(
      "{}\nfound by check --driver {} --caller {} --seed {}\n{}; replay with: iommucheck replay {}",
      printable(f.minimized.message()), printable(target.driver), target.caller, seed,
      minimization(f), path);
}

}  // namespace

void check_finding_target(const FindingTarget& target, const conform::DriverSource& src) {
  if (auto problem = conform::driver_name_problem(src.info.name); !problem.empty())
    throw UsageError(fmt::format("--driver: {}", printable(problem)));
  std::error_code ec;
  std::filesystem::create_directories(target.out, ec);
  if (!ec && !std::filesystem::is_directory(target.out, ec))
    ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw UsageError(fmt::format("--out {}: {}", target.out, ec.message()));
  if (access(target.out.c_str(), W_OK | X_OK) != 0)
    throw UsageError(fmt::format("--out {}: {}", target.out, std::strerror(errno)));
}

std::string finding_stem(const FindingTarget& target, const std::string& check, uint64_t seed) {
  const std::string_view d = target.driver;
  const size_t colon = d.find(':');
  const std::string_view kind = d.substr(0, colon);
  const std::string_view rest = colon == d.npos ? "" : d.substr(colon + 1);
  return fmt::format("{}-{}-{}-seed{}-{}", file_safe(kind),
                     file_safe(std::filesystem::path(rest).filename().string()),
                     file_safe(target.caller), seed, file_safe(check));
}

ResultFinding result_finding(const conform::Finding& f, uint64_t seed) {
  return {.signature = f.signature,
          .check = f.minimized.check,
          .op = f.minimized.op_index + 1,
          .message = printable(f.minimized.message()),
          .trace = "",
          .trace_ops = f.ops.size(),
          .minimized = f.cut_short.empty(),
          .seed = seed};
}

ResultFinding report_finding(const FindingTarget& target, const conform::DriverSource& src,
                             const conform::Finding& f, uint64_t seed) {
  ResultFinding result = result_finding(f, seed);
  fmt::print("VIOLATION: {}\n", printable(f.violation.message()));
  const conform::Trace trace = finding_trace(target, src, f, seed);
  const char* what = f.cut_short.empty() ? "minimized" : "unminimized";
  try {
    const std::string path = conform::create_trace_file(
        target.out, finding_stem(target, f.violation.check, seed), trace,
        [&](const std::string& p) { return finding_comment(target, f, seed, p); });
    fmt::print("{} trace ({} ops): {}\n", what, f.ops.size(), path);
    result.trace = path;
  } catch (const conform::TraceError& e) {
    fmt::print("{} trace ({} ops) not written ({}); here it is:\n{}", what, f.ops.size(), e.what(),
               conform::format_trace(trace, finding_comment(target, f, seed, "FILE")));
  }
  std::fflush(stdout);
  return result;
}

}  // namespace iommu::cli
