// The input format of the differential fuzz target (fuzz/fuzz_diff.cc): bytes decoded with
// FuzzedDataProvider into an impl driver, a domain configuration and an op stream. The same
// decoder backs `iommucheck fuzz-trace INPUT`, so a crashing input becomes a readable trace
// that `iommucheck replay` runs, with one command.
#pragma once

#include <cstdint>
#include <span>

#include "conform/trace.h"

namespace iommu::conform {

// At most this many ops per input: enough for map, unmap, sync and an access to interact,
// few enough for thousands of inputs per second.
inline constexpr size_t kMaxFuzzOps = 24;

// Never fails: every byte string decodes to some trace (possibly with no ops).
Trace decode_fuzz_input(std::span<const uint8_t> data);

}  // namespace iommu::conform
