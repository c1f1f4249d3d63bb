// Format arithmetic: level index decomposition, entries left in a table, block size per
// level, v7s replication, output-address packing; for every format and configuration hw/
// accepts. Internal to proofs/; the catalogue (proofs/proofs.h) lists them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <z3++.h>

#include "hw/format.h"
#include "proofs/format_model.h"
#include "proofs/property.h"

namespace iommu::proofs {

std::vector<Property> format_properties();
std::vector<Property> format_broken_variants();

Property geometry_property(const std::string& name, FormatVariant v);
Property packing_property(const std::string& name, FormatVariant v);

// One configuration hw::make_format accepts, e.g. "arm-64-lpae-s2-4k ias=40 oas=48".
struct FormatCase {
  hw::Format format;
  std::string label;
};

// The families proofs/format_model.h models: LPAE, v7s and DART. The AMD and x86 formats of
// hw/ have no model yet, so their configurations are not enumerated.
bool modelled_family(hw::Family family);

// Every accepted {format, granule, ias, oas} of the modelled families, in hw's format order,
// then by granule, ias, oas.
const std::vector<FormatCase>& format_cases();

// The cases that differ in what `key` returns, keeping the first of each.
std::vector<const FormatCase*> distinct_cases(
    const std::function<std::string(const FormatCase&)>& key);

// Decides `one` for each case in turn, in one Z3 context, stopping at the first that is not
// proved; its model then starts with "format = LABEL". Seconds cover all of them.
using CaseProof = std::function<Outcome(const FormatCase&, z3::context&, unsigned)>;
Outcome over_cases(const std::vector<const FormatCase*>& cases, const CaseProof& one,
                   unsigned timeout_ms);

}  // namespace iommu::proofs
