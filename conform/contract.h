// The caller's contract for each op of a trace (ref/caller_contract.h at the op level): the
// generator keeps contract campaigns within it, and the checker tells misuse from correct calls
// by it (a WARN on misuse is allowed, one on a correct call is a finding).
#pragma once

#include "conform/op.h"
#include "ref/caller_contract.h"
#include "ref/domain.h"

namespace iommu::conform {

// Whether a correct caller may make `op` now: nullopt if so, else the rule it breaks. Ops
// without a contract (syncs, accesses, iova_to_phys) always may.
ref::Verdict contract_verdict(const ref::RefDomain& state, const Op& op);

}  // namespace iommu::conform
