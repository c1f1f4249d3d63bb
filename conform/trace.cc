#include "conform/trace.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

// The whole text in a new file beside `path` (same directory, so a rename is atomic).
std::string write_temporary(const std::string& path, const std::string& text) {
  std::string tmp = path + ".XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0)
    throw TraceError(path, 0, fmt::format("cannot write trace: {}", std::strerror(errno)));
  // mkstemp creates the file private; a trace is for sharing, like any file the user writes.
  int err = fchmod(fd, 0644) == 0 ? 0 : errno;
  for (size_t done = 0; err == 0 && done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n > 0) done += static_cast<size_t>(n);
    else if (n == 0) err = EIO;
    else if (errno != EINTR) err = errno;
  }
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    throw TraceError(path, 0, fmt::format("cannot write trace: {}", std::strerror(err)));
  }
  return tmp;
}

// 0, or the errno of a rename that must not replace `to` (EEXIST when it exists). Where the
// file system cannot rename that way, a hard link does the same.
int rename_noreplace(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (link(from.c_str(), to.c_str()) != 0) return errno;
  unlink(from.c_str());
  return 0;
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
  const std::string tmp = write_temporary(path, format_trace(trace, comment));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    throw TraceError(path, 0, fmt::format("cannot write trace: {}", std::strerror(err)));
  }
}

std::string create_trace_file(const std::string& dir, const std::string& stem, const Trace& trace,
                              const std::function<std::string(const std::string&)>& comment) {
  return create_trace_file(
      dir, stem, [&](const std::string& path) { return format_trace(trace, comment(path)); });
}

std::string create_trace_file(const std::string& dir, const std::string& stem,
                              const std::function<std::string(const std::string&)>& text) {
  constexpr int kMaxTries = 10000;
  for (int n = 1; n <= kMaxTries; n++) {
    const std::string path =
        (std::filesystem::path(dir) / (n == 1 ? stem : fmt::format("{}-{}", stem, n))).string() +
        ".trace";
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) continue;
    const std::string tmp = write_temporary(path, text(path));
    const int err = rename_noreplace(tmp, path);
    if (err == 0) return path;
    unlink(tmp.c_str());
    if (err != EEXIST)
      throw TraceError(path, 0, fmt::format("cannot write trace: {}", std::strerror(err)));
  }
  throw TraceError((std::filesystem::path(dir) / stem).string(), 0,
                   fmt::format("cannot write trace: {} names are taken", kMaxTries));
}

}  // namespace iommu::conform
