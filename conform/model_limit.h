// A run that went beyond what the checker's model can hold (today: its simulated table memory).
// That is neither a pass nor a violation: the driver was not judged past that point, so the
// run ends with this error instead of a verdict.
#pragma once

#include <stdexcept>

namespace iommu::conform {

struct ModelLimitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace iommu::conform
