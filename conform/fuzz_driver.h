// The drivers of a differential fuzz campaign (fuzz/fuzz_diff.cc) and of `iommucheck
// fuzz-trace`, named "impl" (the default), "impl:FORMAT", "linux" or "linux:FORMAT": impl's
// engine, or the linux: drivers of a kernel tree (docs/FUZZING.md, "Fuzzing kernel code").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "conform/checker.h"
#include "conform/fuzz_input.h"
#include "conform/linux_build.h"

namespace iommu::conform {

class Plugin;

// Throws DriverError naming `spec` for a malformed one or an unknown format; a linux choice
// without a kernel directory is an error too. The choice's linux_configs stay empty.
FuzzDriverChoice parse_fuzz_driver(std::string_view spec, const std::string& kernel_dir);

// The choice with what the tree's linux: drivers declare, from its ordinary build (what
// `fuzz-trace` needs: the configuration does not depend on how the plugins were compiled).
// Throws DriverError.
FuzzDriverChoice fuzz_driver_choice(std::string_view spec, const std::string& kernel_dir);

// fuzz_diff's drivers. For a linux choice the tree is built with `build` (libFuzzer's coverage
// instrumentation) and its plugins are loaded into this process for good: their counters
// register with libFuzzer when they load, so this must run before fuzzing starts, and they
// must never be unloaded. The build runs in a child process, because the build's probe loads
// and unloads each plugin, which would leave libFuzzer counting unmapped counters.
class FuzzDrivers {
 public:
  // Throws DriverError (with the compiler's message for a tree that does not build). With
  // `prebuilt`, kernel_dir is a directory of plugins built before (load_linux_build), not a tree.
  FuzzDrivers(std::string_view spec, const std::string& kernel_dir, const LinuxBuildOptions& build,
              bool prebuilt = false);
  const FuzzDriverChoice& choice() const { return choice_; }
  // The driver a decoded trace names, configured as its config line says.
  DriverSource source(const Trace& trace) const;

 private:
  FuzzDriverChoice choice_;
  std::map<std::string, DriverSource> linux_;  // by format
};

}  // namespace iommu::conform
