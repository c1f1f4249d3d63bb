// What makes two findings the same bug: minimization keeps only candidates with the original's
// signature, and a campaign that keeps going records each signature once.
#pragma once

#include <string>

#include "conform/checker.h"

namespace iommu::conform {

// The check, then:
// - for `warn`, the WARN's own FILE:LINE (the start of its text), so a WARN at one line does
//   not stand for one at another;
// - for every other check, the op kind (the first word of the op) and the rule that failed:
//   the detail with every number masked, so the same rule at other addresses, sizes or counts
//   matches.
// E.g. "warn io-pgtable-arm.c:334", "return unmap: unmap returned # (#); ref # (#)".
std::string finding_signature(const Violation& v);

}  // namespace iommu::conform
