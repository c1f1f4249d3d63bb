// Alignment and splitting: iommu_pgsize, the core's map and unmap loops.
// Internal to proofs/; the catalogue (proofs/proofs.h) lists them.
#pragma once

#include <vector>

#include "proofs/pgsize_model.h"
#include "proofs/property.h"
#include "proofs/split_model.h"

namespace iommu::proofs {

std::vector<Property> alignment_properties();
std::vector<Property> alignment_broken_variants();

// The property under a mutated model; its name is the property's with "/" and the mutation.
Property pgsize_property(const std::string& name, PgsizeVariant v);
Property split_property(const std::string& name, SplitVariant v, PgsizeVariant pv);

}  // namespace iommu::proofs
