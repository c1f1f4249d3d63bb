// Flush visibility: gathers, invalidation encoders, the unmap protocol, the flush queue.
// Internal to proofs/; the catalogue (proofs/proofs.h) lists them.
#pragma once

#include <vector>

#include "proofs/property.h"

namespace iommu::proofs {

std::vector<Property> flush_properties();
std::vector<Property> flush_broken_variants();

}  // namespace iommu::proofs
