// Driver names as the CLI contract spells them (docs/CLI.md): impl:FORMAT, plugin:PATH.so,
// linux:FORMAT. Resolves a name to a DriverSource the checker can run.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conform/checker.h"
#include "conform/trace.h"

namespace iommu::conform {

// A driver name that cannot be resolved; the message names it and says what would work.
struct DriverError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DriverListing {
  std::string name;
  std::string description;
};

// What `iommucheck drivers` lists: every impl format, the plugin form, and the linux: drivers
// `kernel_dir` provides (or the linux: form without one). Throws DriverError when the tree
// cannot be built.
std::vector<DriverListing> available_drivers(const std::string& kernel_dir = {});

// Throws DriverError for an unknown, malformed or unloadable driver.
DriverSource resolve_driver(std::string_view name, const std::string& kernel_dir = {});

// The driver a trace names, configured as its `config` line says where that is a property of
// the domain rather than the page table (strict or lazy, non-present caching) or an impl
// policy. Throws DriverError when the driver cannot be held to that configuration.
DriverSource configured_source(const Trace& trace, const std::string& driver_name,
                               const std::string& kernel_dir = {});

}  // namespace iommu::conform
