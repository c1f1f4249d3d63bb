// The caller contract (SEMANTICS.md, "Caller contract vs hostile callers"): which calls a
// correct caller makes. `contract` campaigns generate only these; any other call is misuse that
// a `hostile` campaign makes on purpose, expecting an error and no change.
#pragma once

#include <cstdint>
#include <span>

#include "ref/domain.h"
#include "ref/pgtable.h"

namespace iommu::ref {

// A correct caller maps aligned, in-range, readable or writable, previously unused IOVA space
// (in a lazy domain, space whose stale translations have been flushed).
Verdict contract_map(const RefDomain& domain, uint64_t iova, uint64_t paddr, uint64_t size,
                     int prot);

// ... and unmaps aligned, fully mapped ranges that cut no leaf.
Verdict contract_unmap(const RefDomain& domain, uint64_t iova, uint64_t size);

// ... and maps scatterlists of non-empty segments whose merged runs are each a contract map.
Verdict contract_map_sg(const RefDomain& domain, uint64_t iova,
                        std::span<const Segment> segments, int prot);

}  // namespace iommu::ref
