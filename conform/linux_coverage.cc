#include "conform/linux_coverage.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "conform/isolation.h"

extern char** environ;

namespace iommu::conform {
namespace fs = std::filesystem;
namespace {

// The object files instrumented (conform/linux_build.cc compiles each kernel source to its
// stem's .o, so libgcov names its counters file after the stem).
constexpr const char* kObjects[] = {"io-pgtable", "io-pgtable-arm", "io-pgtable-arm-v7s",
                                    "io-pgtable-dart"};
// The report's files: the kernel's io-pgtable sources, not the headers inlined into them.
constexpr const char* kFilter = R"(drivers/iommu/io-pgtable[^/]*\.c$)";

using FlushFn = void (*)();

struct State {
  std::mutex mu;
  bool on = false;
  fs::path dir;
  fs::path entry;  // the one coverage build of this run
  std::set<std::string> plugins;
  std::vector<FlushFn> flushes;
};

State& state() {
  static State s;
  return s;
}

[[noreturn]] void fail(const std::string& what) { throw LinuxCoverageError(what); }

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((fs::path(d) / tool).c_str(), X_OK) == 0) return true;
  return false;
}

void make_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(fmt::format("--coverage {}: cannot create it: {}", dir.string(), ec.message()));
  if (!fs::is_directory(dir, ec)) fail(fmt::format("--coverage {}: not a directory", dir.string()));
  const fs::path gcda = dir / "gcda";
  fs::remove_all(gcda, ec);
  fs::create_directories(gcda, ec);
  const fs::path probe = gcda / ".writable";
  if (ec || !std::ofstream(probe)) fail(fmt::format("--coverage {}: not writable", dir.string()));
  fs::remove(probe, ec);
}

// Runs gcovr in `cwd`, its output to `log`; its exit status, or -1 when it could not start.
int run_logged(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t field(const std::vector<std::string>& cols, size_t i) {
  return i < cols.size() ? std::strtoull(cols[i].c_str(), nullptr, 10) : 0;
}

// gcovr's CSV: filename,line_total,line_covered,line_percent,branch_total,branch_covered,...
std::vector<FileCoverage> read_summary(const fs::path& csv) {
  std::ifstream in(csv);
  std::vector<FileCoverage> out;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::istringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cols.push_back(c);
    if (cols.empty() || cols[0].empty()) continue;
    out.push_back({cols[0], field(cols, 1), field(cols, 2), field(cols, 4), field(cols, 5)});
  }
  return out;
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "-";
}

}  // namespace

void start_linux_coverage(const fs::path& dir) {
  if (!on_path("gcovr"))
    fail(
        "--coverage needs gcovr, which is not on PATH (Debian package gcovr; "
        "scripts/install-deps.sh installs it)");
  make_writable_dir(dir);
  State& s = state();
  std::lock_guard lock(s.mu);
  s.dir = fs::absolute(dir);
  s.on = true;
  // libgcov reads these when it writes: every counters file lands in DIR/gcda by its base name.
  setenv("GCOV_PREFIX", (s.dir / "gcda").c_str(), 1);
  setenv("GCOV_PREFIX_STRIP", "1000", 1);
}

bool linux_coverage_on() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.on;
}

void add_linux_coverage_plugin(const fs::path& entry, const fs::path& so) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.entry.empty() && s.entry != entry)
    fail("--coverage covers one kernel tree per run; this run builds a second one");
  s.entry = entry;
  if (!s.plugins.insert(so.string()).second) return;
  // The plugin is loaded already: RTLD_NOLOAD finds it, and the reference keeps it loaded.
  void* lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  auto flush =
      lib ? reinterpret_cast<FlushFn>(dlsym(lib, "iommucheck_linux_coverage_flush")) : nullptr;
  if (!flush)
    fail(fmt::format("{}: not a coverage build (no iommucheck_linux_coverage_flush)", so.string()));
  s.flushes.push_back(flush);
  add_child_exit_hook(flush);
}

std::vector<FileCoverage> write_linux_coverage_report() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.entry.empty()) fail("--coverage: no linux: driver ran, so there is nothing to report");
  for (FlushFn flush : s.flushes) flush();
  std::error_code ec;
  for (const char* object : kObjects) {
    const std::string gcno = std::string(object) + ".gcno";
    fs::copy_file(s.entry / gcno, s.dir / "gcda" / gcno, fs::copy_options::overwrite_existing, ec);
    if (ec)
      fail(fmt::format("--coverage: cannot copy {}: {}", (s.entry / gcno).string(), ec.message()));
  }
  const fs::path src = s.entry / "src";
  const std::vector<std::string> argv = {"gcovr",
                                         "--root",
                                         src.string(),
                                         "--filter",
                                         kFilter,
                                         "--html-details",
                                         (s.dir / "index.html").string(),
                                         "--html-title",
                                         "iommucheck: coverage of the kernel's io-pgtable files",
                                         "--json",
                                         (s.dir / "coverage.json").string(),
                                         "--csv",
                                         (s.dir / "summary.csv").string(),
                                         "--txt",
                                         (s.dir / "summary.txt").string(),
                                         (s.dir / "gcda").string()};
  const fs::path log = s.dir / "gcovr.log";
  const int status = run_logged(argv, src, log);
  if (status != 0)
    fail(fmt::format("--coverage: gcovr {} (see {})",
                     status < 0 ? "could not be started" : fmt::format("exited {}", status),
                     log.string()));
  std::vector<FileCoverage> files = read_summary(s.dir / "summary.csv");
  if (files.empty())
    fail(fmt::format("--coverage: gcovr found no counters for the kernel's files in {}",
                     (s.dir / "gcda").string()));
  return files;
}

std::vector<FileCoverage> linux_coverage_snapshot() {
  fs::path entry, dir;
  {
    State& s = state();
    std::lock_guard lock(s.mu);
    entry = s.entry;
    dir = s.dir;
  }
  if (entry.empty()) return {};
  const fs::path snap = dir / "snapshot";
  std::error_code ec;
  fs::create_directories(snap, ec);
  for (const char* object : kObjects) {
    const std::string gcno = std::string(object) + ".gcno";
    fs::copy_file(entry / gcno, dir / "gcda" / gcno, fs::copy_options::skip_existing, ec);
    if (ec) return {};
  }
  const fs::path src = entry / "src";
  const std::vector<std::string> argv = {"gcovr",        "--root",
                                         src.string(),   "--filter",
                                         kFilter,        "--csv",
                                         (snap / "summary.csv").string(),
                                         (dir / "gcda").string()};
  if (run_logged(argv, src, snap / "gcovr.log") != 0) return {};
  return read_summary(snap / "summary.csv");
}

std::string coverage_line(const FileCoverage& f) {
  return fmt::format("{}: lines {}/{} ({}), branches {}/{} ({})", f.file, f.lines_covered, f.lines,
                     percent(f.lines_covered, f.lines), f.branches_covered, f.branches,
                     percent(f.branches_covered, f.branches));
}

}  // namespace iommu::conform
