// The input format of the differential fuzz target (fuzz/fuzz_diff.cc): bytes decoded with
// FuzzedDataProvider into a driver (impl's, or a Linux tree's linux: drivers), a domain
// configuration and an op stream. The same decoder backs `iommucheck fuzz-trace INPUT`, so a
// crashing input becomes a readable trace that `iommucheck replay` runs, with one command.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "conform/trace.h"

namespace iommu::conform {

// At most this many ops per input: enough for map, unmap, sync and an access to interact,
// few enough for thousands of inputs per second.
inline constexpr size_t kMaxFuzzOps = 24;

// Which driver an input names. The input's first bytes pick a hw format and, for impl, the
// partial-unmap policy; they are read the same way for every choice, so one corpus serves all.
struct FuzzDriverChoice {
  bool linux_tree = false;  // linux:FORMAT rather than impl:FORMAT
  std::string format;       // every input runs this format; empty: the input picks one
  // linux_tree: what each linux: driver of the tree declares (conform/fuzz_driver.h). A format
  // the tree cannot run is absent; an input picking it runs the next format that is present.
  std::map<std::string, ref::DomainConfig> linux_configs;
};

// Never fails: every byte string decodes to some trace (possibly with no ops). A linux_tree
// choice needs a non-empty linux_configs, and its format (if any) among them.
Trace decode_fuzz_input(std::span<const uint8_t> data, const FuzzDriverChoice& choice = {});

}  // namespace iommu::conform
