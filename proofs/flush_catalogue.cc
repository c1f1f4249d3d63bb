// Placeholder until the flush-visibility properties land (issue 12, part 4): none yet.
#include "proofs/flush.h"

namespace iommu::proofs {

std::vector<Property> flush_properties() { return {}; }
std::vector<Property> flush_broken_variants() { return {}; }

}  // namespace iommu::proofs
