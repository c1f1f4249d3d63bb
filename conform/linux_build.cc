#include "conform/linux_build.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace iommu::conform {
namespace fs = std::filesystem;
namespace {

// The kernel files compiled, and the headers they include from the tree.
constexpr const char* kSources[] = {"drivers/iommu/io-pgtable.c", "drivers/iommu/io-pgtable-arm.c",
                                    "drivers/iommu/io-pgtable-arm-v7s.c",
                                    "drivers/iommu/io-pgtable-dart.c"};
constexpr const char* kTreeHeader = "include/linux/io-pgtable.h";
constexpr const char* kShimSources[] = {"runtime.c", "coherent.c", "glue.c",        "variants.c",
                                        "probe.c",   "entry.c",    "scratch_host.c"};

// The kernel configuration the sources are built with: every format this shim drives.
constexpr const char* kKernelDefines[] = {
    "-DCONFIG_IOMMU_IO_PGTABLE_LPAE=1", "-DCONFIG_IOMMU_IO_PGTABLE_ARMV7S=1",
    "-DCONFIG_IOMMU_IO_PGTABLE_DART=1", "-DCONFIG_PHYS_ADDR_T_64BIT=1"};

// The kernel's own code: its warnings are not ours to fix, but a kernel function the shim
// lacks must be a compile error, not an implicit declaration.
constexpr const char* kKernelWarnings[] = {"-Wno-all", "-Werror=implicit-function-declaration",
                                           "-Werror=implicit-int"};
// Every symbol resolved at link time: a missing one is a build error, not a dlopen failure.
constexpr const char* kLinkFlags[] = {"-shared", "-Wl,-z,defs"};
// Coverage of the kernel's files: unoptimized, so that a line is a line; atomic counters, as
// page tables may run in several threads.
constexpr const char* kCoverageFlags[] = {"--coverage", "-O0", "-fprofile-update=atomic"};

[[noreturn]] void fail(const fs::path& tree, std::string_view problem) {
  throw LinuxBuildError(fmt::format("kernel {}: {}", tree.string(), problem));
}

// The shim's sources: an installed iommucheck (PREFIX/bin/iommucheck) reads its own copy under
// PREFIX/share, never the tree it was built from, which may be gone; a binary of the build
// tree (cli/, tests/) reads the source tree, so that an edit of the shim takes effect at once.
fs::path shim_dir() {
  if (const char* env = std::getenv("IOMMUCHECK_LINUX_SHIM_DIR"); env && *env) return env;
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec && exe_dir.filename() == fs::path(IOMMUCHECK_INSTALL_BINDIR).filename())
    return (exe_dir / IOMMUCHECK_INSTALLED_SHIM_DIR).lexically_normal();
  return IOMMUCHECK_LINUX_SHIM_DIR;
}

fs::path cache_root(const LinuxBuildOptions& options) {
  if (!options.cache_dir.empty()) return options.cache_dir;
  if (const char* env = std::getenv("IOMMUCHECK_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "iommucheck";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "iommucheck";
  return fs::temp_directory_path() / "iommucheck-cache";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// FNV-1a, 64 bits: a cache key, not a security boundary.
struct Hash {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;  // separator, so that ("ab","c") != ("a","bc")
  }
};

struct ToolResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv[0] from PATH in `cwd`, capturing its output. Everything the child needs is built
// before the fork: other threads may hold the allocator's lock.
ToolResult run_tool(const std::vector<std::string>& argv, const fs::path& cwd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string dir = cwd.string();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    if (chdir(dir.c_str()) != 0) _exit(126);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  ToolResult r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0) r.output.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return {-1, "fork failed"};
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void compile(const fs::path& tree, const fs::path& cwd, std::vector<std::string> argv,
             const std::string& what) {
  const ToolResult r = run_tool(argv, cwd);
  if (r.status == 127)
    fail(tree, fmt::format("cannot run the C compiler `{}` (is it installed?)", argv[0]));
  if (r.status != 0)
    fail(tree,
         fmt::format("compiling {} failed ({} exit {}):\n{}", what, argv[0], r.status, r.output));
}

struct Inputs {
  std::vector<std::string> tree_files;  // relative to the tree's root
  std::vector<fs::path> shim_files;     // absolute
};

Inputs collect_inputs(const fs::path& tree) {
  Inputs in{linux_source_files(tree), {}};
  const fs::path shim = shim_dir();
  std::error_code ec;
  if (!fs::is_directory(shim, ec))
    fail(tree, fmt::format("the shim sources are not at {} (set IOMMUCHECK_LINUX_SHIM_DIR)",
                           shim.string()));
  for (const auto& e : fs::recursive_directory_iterator(shim))
    if (e.is_regular_file()) in.shim_files.push_back(e.path());
  in.shim_files.push_back(shim.parent_path() / "iommucheck_driver.h");
  std::sort(in.shim_files.begin(), in.shim_files.end());
  return in;
}

std::vector<std::string> base_flags(const fs::path& src, const LinuxBuildOptions& options) {
  const fs::path shim = shim_dir();
  std::vector<std::string> f = {options.compiler,
                                "-std=gnu11",
                                "-O2",
                                "-g",
                                "-fPIC",
                                "-fvisibility=hidden",
                                "-fno-strict-aliasing",
                                "-fno-strict-overflow",
                                "-I" + (shim / "include").string(),
                                "-I" + (src / "include").string(),
                                "-I" + shim.parent_path().string(),
                                "-I" + shim.string()};
  f.insert(f.end(), std::begin(kKernelDefines), std::end(kKernelDefines));
  f.insert(f.end(), options.extra_cflags.begin(), options.extra_cflags.end());
  return f;
}

std::string cache_key(const fs::path& tree, const Inputs& in, const LinuxBuildOptions& options) {
  Hash h;
  for (const auto& rel : in.tree_files) {
    h.add(rel);
    h.add(read_file(tree / rel));
  }
  for (const auto& p : in.shim_files) {
    h.add(p.filename().string());
    h.add(read_file(p));
  }
  for (const auto& f : base_flags("", options)) h.add(f);
  for (const char* f : kKernelWarnings) h.add(f);
  for (const char* f : kLinkFlags) h.add(f);
  if (options.coverage)
    for (const char* f : kCoverageFlags) h.add(f);
  for (const auto& f : options.extra_ldflags) h.add(f);
  h.add(run_tool({options.compiler, "--version"}, fs::current_path()).output);
  return fmt::format("{:016x}", h.h);
}

std::vector<std::string> read_variants(const fs::path& entry) {
  std::istringstream in(read_file(entry / "variants"));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) names.push_back(line);
  return names;
}

// Why a built plugin has no descriptor: its probe's own words.
std::string probe_error(const fs::path& so) {
  void* lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fmt::format("not loadable: {}", dlerror());
  std::string why;
  using ErrorFn = const char* (*)();
  using DescFn = const void* (*)(uint32_t);
  auto desc = reinterpret_cast<DescFn>(dlsym(lib, "iommucheck_driver_descriptor"));
  auto err = reinterpret_cast<ErrorFn>(dlsym(lib, "iommucheck_linux_probe_error"));
  if (desc && err && !desc(1)) why = err();
  dlclose(lib);
  return why;
}

// The shim's variant names, from variants.c itself (list_variants.c prints them), kept in the
// entry's `variants` file: one plugin is linked per name.
std::vector<std::string> list_variants(const fs::path& tree, const fs::path& work,
                                       const LinuxBuildOptions& options) {
  std::vector<std::string> argv = base_flags(work / "src", options);
  const fs::path exe = work / "list-variants";
  argv.insert(argv.end(), {"-Wall", (shim_dir() / "variants.c").string(),
                           (shim_dir() / "list_variants.c").string(), "-o", exe.string()});
  compile(tree, work, argv, "the shim's variant list");
  const ToolResult r = run_tool({exe.string()}, work);
  if (r.status != 0) fail(tree, fmt::format("listing the shim's variants failed: {}", r.output));
  std::ofstream(work / "variants") << r.output;
  return read_variants(work);
}

// The kernel files' extra flags: with coverage, the .gcno files name the sources where they
// will be once `work` is renamed to `entry`.
std::vector<std::string> kernel_flags(const fs::path& work, const fs::path& entry,
                                      const LinuxBuildOptions& options) {
  std::vector<std::string> f(std::begin(kKernelWarnings), std::end(kKernelWarnings));
  if (!options.coverage) return f;
  f.insert(f.end(), std::begin(kCoverageFlags), std::end(kCoverageFlags));
  f.push_back(fmt::format("-fprofile-prefix-map={}={}", work.string(), entry.string()));
  return f;
}

// Who is told about each compiler run of a build (set_linux_build_observer).
LinuxBuildObserver& observer() {
  static LinuxBuildObserver o;
  return o;
}

// Counts a build's compiler runs for the observer: `what` is starting, `done` have finished.
struct Steps {
  std::string tree;
  size_t total;
  size_t done = 0;
  void start(const std::string& what) {
    if (observer()) observer()({tree, done++, total, what});
  }
  void finish() const {
    if (observer()) observer()({tree, total, total, "done"});
  }
};

// Compiles everything into `work`: the tree's files are copied to work/src first, so that the
// kernel's __FILE__ is its path in the tree (what WARN reports) whatever DIR was given.
void build_into(const fs::path& tree, const Inputs& in, const fs::path& work, const fs::path& entry,
                const LinuxBuildOptions& options) {
  const fs::path src = work / "src";
  for (const auto& rel : in.tree_files) {
    fs::create_directories((src / rel).parent_path());
    fs::copy_file(tree / rel, src / rel, fs::copy_options::overwrite_existing);
  }
  std::vector<std::string> objects;
  // The variants first: their number makes the count of compiler runs known.
  const std::vector<std::string> variants = list_variants(tree, work, options);
  Steps steps{tree.string(), std::size(kSources) + std::size(kShimSources) + 2 * variants.size()};
  auto cc = [&](const std::string& source, const std::string& object,
                const std::vector<std::string>& more, const std::string& what = "") {
    steps.start("compiling " + (what.empty() ? source : what));
    std::vector<std::string> argv = base_flags(src, options);
    argv.insert(argv.end(), more.begin(), more.end());
    argv.insert(argv.end(), {"-c", source, "-o", (work / object).string()});
    compile(tree, src, argv, source);
  };
  for (const char* rel : kSources) {
    const std::string obj = fs::path(rel).stem().string() + ".o";
    cc(rel, obj, kernel_flags(work, entry, options));
    objects.push_back((work / obj).string());
  }
  for (const char* file : kShimSources) {
    const std::string obj = std::string("shim-") + fs::path(file).stem().string() + ".o";
    std::vector<std::string> shim_flags = {"-Wall"};
    if (options.coverage) shim_flags.push_back("-DLXSHIM_COVERAGE=1");
    cc((shim_dir() / file).string(), obj, shim_flags, std::string("shim ") + file);
    objects.push_back((work / obj).string());
  }
  for (const std::string& name : variants) {
    const std::string obj = "variant-" + name + ".o";
    cc((shim_dir() / "variant.c").string(), obj, {fmt::format("-DLXSHIM_VARIANT=\"{}\"", name)},
       "variant " + name);
    steps.start("linking linux-" + name + ".so");
    std::vector<std::string> link = {options.compiler};
    link.insert(link.end(), std::begin(kLinkFlags), std::end(kLinkFlags));
    if (options.coverage) link.push_back("--coverage");
    link.insert(link.end(), options.extra_ldflags.begin(), options.extra_ldflags.end());
    link.insert(link.end(), {"-o", (work / ("linux-" + name + ".so")).string()});
    link.insert(link.end(), objects.begin(), objects.end());
    link.insert(link.end(), {(work / obj).string(), "-lpthread"});
    compile(tree, work, link, "linux-" + name + ".so (link)");
  }
  steps.finish();
}

// What a KUnit test links besides its own file and the runner: the tree's objects and the
// shim's runtime (not the plugin glue).
constexpr const char* kKunitObjects[] = {
    "io-pgtable.o",   "io-pgtable-arm.o", "io-pgtable-arm-v7s.o", "io-pgtable-dart.o",
    "shim-runtime.o", "shim-coherent.o",  "shim-scratch_host.o"};

}  // namespace

void set_linux_build_observer(LinuxBuildObserver o) { observer() = std::move(o); }

std::vector<std::string> linux_source_files(const fs::path& kernel_dir) {
  std::error_code ec;
  if (!fs::is_directory(kernel_dir, ec)) fail(kernel_dir, "no such directory");
  std::vector<std::string> files;
  for (const char* rel : kSources) files.push_back(rel);
  files.push_back(kTreeHeader);
  for (const auto& rel : files)
    if (!fs::is_regular_file(kernel_dir / rel, ec))
      fail(kernel_dir, fmt::format("missing {} (give a Linux tree, or one holding at least "
                                   "drivers/iommu/io-pgtable*.[ch] and {})",
                                   rel, kTreeHeader));
  // The tree's private headers the sources include ("io-pgtable-arm.h", "iommu-pages.h").
  for (const auto& e : fs::directory_iterator(kernel_dir / "drivers/iommu"))
    if (e.is_regular_file() && e.path().extension() == ".h")
      files.push_back("drivers/iommu/" + e.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

void build_linux_kunit(const fs::path& kernel_dir, const fs::path& test, const fs::path& exe,
                       const LinuxBuildOptions& options) {
  const LinuxBuild build = build_linux_drivers(kernel_dir, options);
  const fs::path work = exe.string() + ".objs";
  std::error_code ec;
  fs::remove_all(work, ec);
  if (!fs::create_directories(work, ec))
    fail(kernel_dir, fmt::format("cannot create {}: {}", work.string(), ec.message()));
  auto cc = [&](const fs::path& source, const std::string& object) {
    std::vector<std::string> argv = base_flags(build.dir / "src", options);
    argv.insert(argv.begin() + 1, "-I" + (shim_dir() / "selftest_include").string());
    argv.insert(argv.end(), std::begin(kKernelWarnings), std::end(kKernelWarnings));
    argv.insert(argv.end(), {"-c", fs::absolute(source).string(), "-o", (work / object).string()});
    compile(kernel_dir, work, argv, source.string());
  };
  cc(test, "test.o");
  cc(shim_dir() / "kunit_main.c", "kunit_main.o");
  std::vector<std::string> link = {options.compiler, "-o", exe.string(), (work / "test.o").string(),
                                   (work / "kunit_main.o").string()};
  for (const char* o : kKunitObjects) link.push_back((build.dir / o).string());
  link.push_back("-lpthread");
  compile(kernel_dir, work, link, exe.filename().string() + " (link)");
  fs::remove_all(work, ec);
}

LinuxBuild build_linux_drivers(const fs::path& kernel_dir, const LinuxBuildOptions& options) {
  const Inputs in = collect_inputs(kernel_dir);
  LinuxBuild out;
  out.dir = cache_root(options) / "linux" / cache_key(kernel_dir, in, options);
  std::error_code ec;
  if (!fs::is_regular_file(out.dir / "complete", ec)) {
    const fs::path work = out.dir.string() + fmt::format(".tmp{}", getpid());
    fs::remove_all(work, ec);
    if (!fs::create_directories(work, ec))
      fail(kernel_dir,
           fmt::format("cannot create the build directory {}: {}", work.string(), ec.message()));
    try {
      build_into(kernel_dir, in, work, out.dir, options);
    } catch (...) {
      fs::remove_all(work, ec);
      throw;
    }
    std::ofstream(work / "complete") << kernel_dir.string() << "\n";
    fs::rename(work, out.dir, ec);
    if (ec) fs::remove_all(work, ec);  // another process finished the same build first
  }
  return load_linux_build(out.dir);
}

LinuxBuild load_linux_build(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "variants", ec))
    throw LinuxBuildError(
        fmt::format("{}: not a build of linux: drivers (it has no `variants` file)", dir.string()));
  LinuxBuild out;
  out.dir = dir;
  out.variants = read_variants(dir);
  for (const std::string& name : out.variants) {
    const fs::path so = dir / ("linux-" + name + ".so");
    const std::string why = probe_error(so);
    if (why.empty())
      out.plugins[name] = so;
    else
      out.unavailable[name] = why;
  }
  return out;
}

}  // namespace iommu::conform
