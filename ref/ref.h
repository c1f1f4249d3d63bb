// The reference model: the IOMMU API's semantics as a small executable specification.
// Everything else in iommucheck is judged against it. See docs/SEMANTICS.md.
#pragma once

#include "base/bits.h"            // kernel bit helpers: fls64_idx, ffs64_idx, genmask
#include "base/prot.h"            // IOMMU_READ ... and their text form
#include "ref/caller_contract.h" // which calls a correct caller makes
#include "ref/config.h"          // DomainConfig: page sizes, ias/oas, policies
#include "ref/device_view.h"     // what a device may still observe
#include "ref/domain.h"          // RefDomain: map, unmap, map_sg, iova_to_phys
#include "ref/leaf_map.h"        // interval storage of leaves
#include "ref/pgsize.h"          // iommu_pgsize
#include "ref/pgtable.h"         // RefPgtable: map_pages/unmap_pages and their allowed outcomes
