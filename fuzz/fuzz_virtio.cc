// The virtio-iommu fuzz target: bytes decode as fuzz_diff's do (conform/fuzz_input.h), for a
// 4 KiB, 48-bit format whose ops suit the virtio domain, and run on `virtio` or `virtio-sync`
// (the input's first byte) in the domain its config line asks for (strict or lazy). A
// violation prints the trace, which `iommucheck replay` runs, and aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "conform/campaign.h"
#include "conform/fuzz_input.h"
#include "conform/trace.h"
#include "conform/virtio_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iommu::conform;
  static const FuzzDriverChoice choice{.format = "arm-64-lpae-s1-4k"};
  const bool queued = size == 0 || (data[0] & 1) == 0;
  Trace trace = decode_fuzz_input({data, size}, choice);
  DriverSource src = virtio_driver_source(queued ? iommu::impl::VirtioRequests::kQueued
                                                 : iommu::impl::VirtioRequests::kSynchronous);
  if (trace.config) src.info.config.invalidation = trace.config->invalidation;
  trace.driver = src.info.name;
  trace.config = src.info.config;
  trace.iommu.reset();
  if (const auto v = replay_ops(src, trace.ops)) {
    std::fprintf(stderr, "VIOLATION: %s\n%s", v->message().c_str(), format_trace(trace).c_str());
    std::abort();
  }
  return 0;
}
