// The text form of a size in output and traces.
#pragma once

#include <cstdint>
#include <string>

namespace iommu {

// "4K", "2M", "1G", or hex for sizes that are not a whole unit.
std::string size_name(uint64_t bytes);

}  // namespace iommu
