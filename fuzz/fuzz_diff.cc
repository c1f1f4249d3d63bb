// The differential fuzz target: bytes decode (conform/fuzz_input.h) to an impl driver, a
// domain configuration and up to kMaxFuzzOps ops, which the checker runs beside the reference
// and the hardware model. A violation aborts with its message and the trace; `iommucheck
// fuzz-trace CRASH` prints the same trace for `iommucheck replay`.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "conform/campaign.h"
#include "conform/fuzz_input.h"
#include "conform/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iommu::conform;
  const Trace trace = decode_fuzz_input({data, size});
  const DriverSource src = configured_source(trace, *trace.driver);
  if (auto v = replay_ops(src, trace.ops)) {
    std::fprintf(stderr, "VIOLATION: %s\n%s", v->message().c_str(), format_trace(trace).c_str());
    std::abort();
  }
  return 0;
}
