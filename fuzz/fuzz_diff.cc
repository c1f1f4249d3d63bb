// The differential fuzz target: bytes decode (conform/fuzz_input.h) to a driver, a domain
// configuration and up to kMaxFuzzOps ops, which the checker runs beside the reference and
// the hardware model. A violation aborts with its message and the trace; `iommucheck
// fuzz-trace CRASH` prints the same trace for `iommucheck replay`.
//
// Options (libFuzzer ignores flags that start with "--"; each has an environment variable,
// which the option overrides):
//   --driver=SPEC    IOMMUCHECK_FUZZ_DRIVER  impl (default), impl:FORMAT, linux, linux:FORMAT
//   --kernel=DIR     IOMMUCHECK_KERNEL       the tree of linux: drivers (implies --driver=linux)
//   --plugins=DIR    IOMMUCHECK_FUZZ_PLUGINS the plugins of a tree built before, without the tree
//                                            or a compiler (implies --driver=linux); default,
//                                            without --kernel: this executable's path plus
//                                            ".plugins", when that directory exists (how OSS-Fuzz,
//                                            which passes no options of ours, runs them)
//   --baseline=FILE  IOMMUCHECK_BASELINE     known findings (docs/LINUX.md) are not crashes;
//                                            default with plugins: their directory's `baseline`
//   --control=DIR    IOMMUCHECK_CONTROL      a finding the tree DIR has too is not a crash: with
//                                            a mutated copy as --kernel and the tree it came
//                                            from as --control, only what the mutant changed is
//                                            a finding (the kernel bug zoo, docs/FUZZING.md)
//   --kernel-coverage=0                      the kernel files without libFuzzer's coverage
//                                            (to measure what the instrumentation adds)
// The kernel files are compiled with the compiler and coverage flags of this build and loaded
// into this process, so libFuzzer is guided by the kernel's own edges (docs/FUZZING.md).
//
// IOMMUCHECK_MUTANT=NAME (a name in the first column of `iommucheck mutants`) fuzzes impl with
// that seeded bug switched on in every checker it runs (CheckOptions::bug), to see the campaign
// find it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "conform/baseline.h"
#include "conform/campaign.h"
#include "conform/fuzz_driver.h"
#include "conform/fuzz_input.h"
#include "conform/mutants.h"
#include "conform/registry.h"
#include "conform/signature.h"

namespace {

std::unique_ptr<iommu::conform::FuzzDrivers> drivers;
std::unique_ptr<iommu::conform::FuzzDrivers> control;
std::optional<iommu::conform::Baseline> baseline;
iommu::conform::CheckOptions check;  // with IOMMUCHECK_MUTANT's bug

iommu::impl::Mutant mutant_from_env() {
  const char* name = std::getenv("IOMMUCHECK_MUTANT");
  if (!name || !*name) return iommu::impl::Mutant::kNone;
  for (const auto& spec : iommu::conform::mutant_specs())
    if (spec.name == std::string_view(name)) return spec.id;
  std::fprintf(stderr, "IOMMUCHECK_MUTANT=%s: no such mutant; valid names:", name);
  for (const auto& spec : iommu::conform::mutant_specs())
    std::fprintf(stderr, " %.*s", static_cast<int>(spec.name.size()), spec.name.data());
  std::fprintf(stderr, "\n");
  std::exit(2);
}

// The value of --NAME=VALUE among the arguments, else of the environment variable, else "".
std::string option(int argc, char** argv, std::string_view name, const char* env) {
  const std::string prefix = "--" + std::string(name) + "=";
  for (int i = 1; i < argc; i++)
    if (std::string_view(argv[i]).starts_with(prefix)) return argv[i] + prefix.size();
  const char* value = std::getenv(env);
  return value ? value : "";
}

// --plugins, else IOMMUCHECK_FUZZ_PLUGINS, else "<this executable>.plugins" if it is a directory.
std::string plugins_dir(int argc, char** argv) {
  const std::string dir = option(argc, argv, "plugins", "IOMMUCHECK_FUZZ_PLUGINS");
  if (!dir.empty()) return dir;
  std::error_code ec;
  const std::string beside =
      std::filesystem::read_symlink("/proc/self/exe", ec).string() + ".plugins";
  return !ec && std::filesystem::is_directory(beside, ec) ? beside : "";
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// libFuzzer's instrumentation, as this build's own objects get it (fuzz/CMakeLists.txt).
iommu::conform::LinuxBuildOptions kernel_build(bool coverage) {
  iommu::conform::LinuxBuildOptions options;
  options.compiler = IOMMUCHECK_FUZZ_KERNEL_CC;
  options.extra_cflags = words(IOMMUCHECK_FUZZ_KERNEL_SANITIZE);
  if (coverage)
    for (auto& f : words(IOMMUCHECK_FUZZ_KERNEL_COVERAGE)) options.extra_cflags.push_back(f);
  // The callbacks of the coverage and sanitizer runtimes are in this executable.
  options.extra_ldflags = {"-Wl,-z,undefs"};
  return options;
}

// Whether the --control tree gives the same finding on the same ops.
bool same_in_control(const iommu::conform::Trace& trace, const iommu::conform::Violation& v) {
  using namespace iommu::conform;
  try {
    const std::optional<Violation> c = replay_ops(control->source(trace), trace.ops);
    return c && finding_signature(*c) == finding_signature(v);
  } catch (const ModelLimitError&) {
    return false;
  }
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "fuzz_diff: %s\n", message.c_str());
  std::exit(2);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using namespace iommu::conform;
  check.bug = mutant_from_env();
  const std::string kernel = option(*argc, *argv, "kernel", "IOMMUCHECK_KERNEL");
  if (!kernel.empty() && !option(*argc, *argv, "plugins", "IOMMUCHECK_FUZZ_PLUGINS").empty())
    usage_error("--kernel=" + kernel + " and --plugins: give one of them");
  const std::string plugins = kernel.empty() ? plugins_dir(*argc, *argv) : "";
  std::string spec = option(*argc, *argv, "driver", "IOMMUCHECK_FUZZ_DRIVER");
  if (spec.empty()) spec = kernel.empty() && plugins.empty() ? "impl" : "linux";
  const std::string coverage = option(*argc, *argv, "kernel-coverage", "");
  if (!coverage.empty() && coverage != "0" && coverage != "1")
    usage_error("--kernel-coverage=" + coverage + ": use 0 or 1");
  try {
    drivers = std::make_unique<FuzzDrivers>(spec, plugins.empty() ? kernel : plugins,
                                            kernel_build(coverage != "0"), !plugins.empty());
    std::string file = option(*argc, *argv, "baseline", "IOMMUCHECK_BASELINE");
    if (file.empty() && !plugins.empty() && std::filesystem::exists(plugins + "/baseline"))
      file = plugins + "/baseline";
    if (!file.empty()) baseline = Baseline::load(file);
    if (const std::string dir = option(*argc, *argv, "control", "IOMMUCHECK_CONTROL");
        !dir.empty()) {
      if (!drivers->choice().linux_tree) usage_error("--control=" + dir + " needs --kernel");
      control = std::make_unique<FuzzDrivers>(spec, dir, kernel_build(false));
    }
  } catch (const std::exception& e) {
    usage_error(e.what());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iommu::conform;
  const Trace trace = decode_fuzz_input({data, size}, drivers->choice());
  const DriverSource src = drivers->source(trace);
  std::optional<Violation> v;
  try {
    v = replay_ops(src, trace.ops, check);
  } catch (const ModelLimitError&) {
    return -1;  // more table memory than the model holds: not judged, keep it out of the corpus
  }
  if (v && baseline && baseline->find(*trace.driver, finding_signature(*v)))
    return -1;  // a known finding: not a crash, and not a reason to keep the input
  if (v && control && same_in_control(trace, *v)) return -1;
  if (v) {
    std::fprintf(stderr, "VIOLATION: %s\n%s", v->message().c_str(), format_trace(trace).c_str());
    std::abort();
  }
  return 0;
}
