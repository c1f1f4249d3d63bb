// The input format of the differential fuzz target (fuzz/fuzz_diff.cc): bytes decoded with
// FuzzedDataProvider into an impl driver, a domain configuration and an op stream. The same
// decoder backs `iommucheck fuzz-trace INPUT`, so a crashing input becomes a readable trace
// that `iommucheck replay` runs, with one command.
#pragma once

#include <cstdint>
#include <span>

#include "conform/checker.h"
#include "conform/trace.h"

namespace iommu::conform {

// At most this many ops per input: enough for map, unmap, sync and an access to interact,
// few enough for thousands of inputs per second.
inline constexpr size_t kMaxFuzzOps = 24;

// Never fails: every byte string decodes to some trace (possibly with no ops).
Trace decode_fuzz_input(std::span<const uint8_t> data);

// The driver a trace names, configured as its `config` line says where that is a property of
// the domain rather than the page table (strict or lazy, non-present caching) or an impl
// policy. Throws DriverError when the driver cannot be held to that configuration.
DriverSource configured_source(const Trace& trace, const std::string& driver_name,
                               const std::string& kernel_dir = {});

}  // namespace iommu::conform
