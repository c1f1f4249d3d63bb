// proofs/: Z3 proofs of the arithmetic the code runs, for every 64-bit input: iommu_pgsize and
// the core's loops, the descriptor formats' geometry and address packing, flush visibility.
// Each model is a template shared with the tests that compare it with ref/ and hw/
// (docs/PROOFS.md).
#pragma once

#include <vector>

#include "proofs/property.h"

namespace iommu::proofs {

// What `iommucheck prove` runs, in order; names are unique.
std::vector<Property> all_properties();
// Each property under a mutated model (a historical bug among them); each must give
// kCounterexample. Named "PROPERTY/MUTATION".
std::vector<Property> broken_variants();

}  // namespace iommu::proofs
