// Flush visibility (issue 12, part 4): the properties proved about gathers, invalidation
// encoders, the unmap protocol, the flush queue and iotlb_sync_map (docs/PROOFS.md).
#pragma once

#include <vector>

#include "proofs/property.h"

namespace iommu::proofs {

// The flush-visibility properties `iommucheck prove` runs.
std::vector<Property> flush_properties();

// One broken variant per property group member: a historical Linux bug re-created, or one
// assumed step dropped; each must yield Status::kCounterexample.
std::vector<Property> flush_broken_variants();

}  // namespace iommu::proofs
