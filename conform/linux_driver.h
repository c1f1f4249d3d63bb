// `linux:FORMAT` drivers: Linux's io-pgtable code from a kernel tree, built by
// conform/linux_build.h and run as plugins (isolated, like any plugin). docs/LINUX.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conform/checker.h"

namespace iommu::conform {

// The driver linux:`format` built from `kernel_dir`. Throws LinuxBuildError when the tree
// cannot be built and std::invalid_argument when the format is not one the tree provides.
DriverSource linux_driver_source(std::string_view format, const std::string& kernel_dir);

// Every linux: variant of `kernel_dir`: name and description, or for one the tree's code
// refuses or hw/ cannot walk, "unavailable: " and why.
std::vector<std::pair<std::string, std::string>> linux_drivers(const std::string& kernel_dir);

}  // namespace iommu::conform
