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

// ... and unmaps aligned, fully mapped ranges. Where they may cut a leaf follows the policy
// the driver declares: anywhere for SPLIT, which promises to split; only at the end for WHOLE
// (the Linux core unmaps from a leaf's start to inside it, and the driver removes it whole);
// nowhere for REFUSE.
Verdict contract_unmap(const RefDomain& domain, uint64_t iova, uint64_t size);

// The same contracts one level down, for io_pgtable_ops called directly: pgsize one of the
// driver's page sizes, iova and paddr aligned to it, pgcount >= 1, the range as above.
Verdict contract_map_pages(const RefDomain& domain, const MapPagesCall& call);
Verdict contract_unmap_pages(const RefDomain& domain, const UnmapPagesCall& call);

// ... and maps scatterlists of non-empty segments whose merged runs are each a contract map.
Verdict contract_map_sg(const RefDomain& domain, uint64_t iova,
                        std::span<const Segment> segments, int prot);

}  // namespace iommu::ref
