// Building `linux:FORMAT` drivers: Linux's io-pgtable sources from a kernel tree compiled with
// the system C compiler against our userspace shim (conform/linux/) into one plugin per format
// (docs/LINUX.md), cached by a content hash of every input.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace iommu::conform {

// A tree that cannot be built: a missing file, or the compiler's complaint (its output
// included), or no usable cache directory. One message naming the tree.
struct LinuxBuildError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LinuxBuildOptions {
  // Extra C compiler flags, part of the cache key. For tests that build a deliberately
  // broken shim (e.g. -DLXSHIM_BROKEN_DROP_SYNC=N); the CLI never sets them.
  std::vector<std::string> extra_cflags;
  // The kernel's files compiled with gcc --coverage (docs/LINUX.md, Coverage), a cache entry of
  // its own: the .gcno files sit in the entry, and each plugin exports
  // iommucheck_linux_coverage_flush, which writes the counters where GCOV_PREFIX says.
  bool coverage = false;
  // The C compiler (from PATH) and extra flags of the plugins' link, both part of the cache key.
  // fuzz_diff builds the kernel files with clang and libFuzzer's coverage instrumentation,
  // whose callbacks the fuzzer's executable defines (so the link allows undefined symbols).
  std::string compiler = "cc";
  std::vector<std::string> extra_ldflags;
  // Where builds are kept; empty: $IOMMUCHECK_CACHE_DIR, else $XDG_CACHE_HOME/iommucheck,
  // else ~/.cache/iommucheck.
  std::filesystem::path cache_dir;
};

struct LinuxBuild {
  std::filesystem::path dir;  // the cache entry
  std::vector<std::string> variants;  // the shim's variants (conform/linux/variants.c), in order
  // Per variant: the plugin built for it, or why the tree's code cannot run it (the probe's
  // finding: alloc_io_pgtable_ops refusing the configuration, say).
  std::map<std::string, std::filesystem::path> plugins;
  std::map<std::string, std::string> unavailable;
};

// One compiler run of a build that is not in the cache: `what` ("compiling
// drivers/iommu/io-pgtable-arm.c", "linking linux-arm-v7s.so") starts, `done` of `total` have
// finished; a last call with done == total ends the build.
struct LinuxBuildStep {
  std::string tree;
  size_t done = 0, total = 0;
  std::string what;
};
using LinuxBuildObserver = std::function<void(const LinuxBuildStep&)>;
// Every build of this process from now on tells `o` (the CLI's progress line); empty: nobody.
void set_linux_build_observer(LinuxBuildObserver o);

// The source files taken from a tree, relative to its root.
std::vector<std::string> linux_source_files(const std::filesystem::path& kernel_dir);

// Builds (or finds in the cache) the linux: plugins of `kernel_dir`, a full tree or just the
// files linux_source_files names. Throws LinuxBuildError. Safe to call from several processes
// at once: a build is assembled privately and renamed into place.
LinuxBuild build_linux_drivers(const std::filesystem::path& kernel_dir,
                               const LinuxBuildOptions& options = {});

// Compiles `test`, a KUnit test file (`iommucheck export --kunit`, conform/kunit_export.h),
// against the tree under our minimal KUnit (conform/linux/selftest_include/kunit/) and links it
// with the tree's io-pgtable objects of build_linux_drivers (cached), the shim's runtime and
// the KUnit runner (conform/linux/kunit_main.c) into the executable `exe`, which prints KTAP
// and exits 0 when every case passed, 1 when one failed. Throws LinuxBuildError naming the
// file and carrying the compiler's message.
void build_linux_kunit(const std::filesystem::path& kernel_dir, const std::filesystem::path& test,
                       const std::filesystem::path& exe, const LinuxBuildOptions& options = {});

// A build made before, without its tree or compiler: `dir` holds the `variants` file and the
// linux-VARIANT.so plugins of a cache entry (what OSS-Fuzz ships beside fuzz_diff, since its
// runners have no compiler; docs/FUZZING.md). Throws LinuxBuildError.
LinuxBuild load_linux_build(const std::filesystem::path& dir);

}  // namespace iommu::conform
