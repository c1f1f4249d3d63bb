// The five groups of flush-visibility properties (issue 12, part 4), each with the broken
// variants that re-create a real bug or drop one assumed step; proofs/flush_catalogue.cc
// joins them.
#pragma once

#include <vector>

#include "proofs/property.h"

namespace iommu::proofs::flush {

struct Part {
  std::vector<Property> properties;
  std::vector<Property> broken;  // each must yield Status::kCounterexample
};

Part gather_part();       // (a) gather merge rules, Linux's and AMD's
Part encoder_part();      // (b) SMMUv3, VT-d, AMD invalidation encoders
Part unmap_part();        // (c) the unmap protocol over an abstract IOTLB and walk cache
Part flush_queue_part();  // (d) the flush queue's start/finish counter rule
Part sync_map_part();     // (e) visibility of new mappings under non-present caching

}  // namespace iommu::proofs::flush
