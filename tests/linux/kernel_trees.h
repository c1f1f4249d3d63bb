// The kernel trees the linux: tests run on: the environment variable IOMMUCHECK_KERNEL_<V>
// (V = 6_12, or SID: Debian sid's newest, 7.2 today), else the CMake cache variable of that
// name (cmake/Kernels.cmake). A test without its tree skips and says how to get it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace iommu::conform::testing_linux {

inline std::string kernel_tree(const std::string& version) {
  const std::string var = "IOMMUCHECK_KERNEL_" + version;
  if (const char* env = std::getenv(var.c_str()); env && *env) return env;
  return version == "6_12" ? IOMMUCHECK_KERNEL_6_12 : IOMMUCHECK_KERNEL_SID;
}

}  // namespace iommu::conform::testing_linux

#define REQUIRE_KERNEL_VERSION(dir, version)                                                      \
  const std::string dir = ::iommu::conform::testing_linux::kernel_tree(version);                  \
  if (dir.empty() || !std::filesystem::is_directory(dir))                                         \
    GTEST_SKIP() << "IOMMUCHECK_KERNEL_" << version << " is not set or not a directory ('" << dir \
                 << "'): scripts/fetch-kernel.sh fetches the kernels; then configure "            \
                 << "with -DIOMMUCHECK_KERNEL_" << version << "=DIR or export it";
#define REQUIRE_KERNEL(dir) REQUIRE_KERNEL_VERSION(dir, "6_12")
