// The differential fuzz target: bytes decode (conform/fuzz_input.h) to an impl driver, a
// domain configuration and up to kMaxFuzzOps ops, which the checker runs beside the reference
// and the hardware model. A violation aborts with its message and the trace; `iommucheck
// fuzz-trace CRASH` prints the same trace for `iommucheck replay`.
//
// IOMMUCHECK_MUTANT=NAME (a name in the first column of `iommucheck mutants`) fuzzes impl with
// that seeded bug switched on, to see the campaign find it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "conform/campaign.h"
#include "conform/fuzz_input.h"
#include "conform/mutants.h"
#include "conform/registry.h"

namespace {

iommu::impl::Mutant mutant_from_env() {
  const char* name = std::getenv("IOMMUCHECK_MUTANT");
  if (!name || !*name) return iommu::impl::Mutant::kNone;
  for (const auto& spec : iommu::conform::mutant_specs())
    if (spec.name == std::string_view(name)) return spec.id;
  std::fprintf(stderr, "IOMMUCHECK_MUTANT=%s: no such mutant; valid names:", name);
  for (const auto& spec : iommu::conform::mutant_specs())
    std::fprintf(stderr, " %.*s", static_cast<int>(spec.name.size()), spec.name.data());
  std::fprintf(stderr, "\n");
  std::exit(2);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  iommu::impl::set_active_mutant(mutant_from_env());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iommu::conform;
  const Trace trace = decode_fuzz_input({data, size});
  const DriverSource src = configured_source(trace, *trace.driver);
  std::optional<Violation> v;
  try {
    v = replay_ops(src, trace.ops);
  } catch (const ModelLimitError&) {
    return -1;  // more table memory than the model holds: not judged, keep it out of the corpus
  }
  if (v) {
    std::fprintf(stderr, "VIOLATION: %s\n%s", v->message().c_str(), format_trace(trace).c_str());
    std::abort();
  }
  return 0;
}
