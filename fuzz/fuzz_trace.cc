// libFuzzer target for the trace parser: any bytes either fail with a TraceError or parse to a
// Trace whose printed form parses back to the same Trace and prints the same again.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "conform/trace.h"

using namespace iommu::conform;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Trace trace;
  try {
    trace = parse_trace(text, "fuzz");
  } catch (const TraceError&) {
    return 0;
  }
  std::string printed = format_trace(trace);
  Trace again;
  try {
    again = parse_trace(printed, "printed");
  } catch (const TraceError& e) {
    std::fprintf(stderr, "printed trace does not parse: %s\n--- printed:\n%s", e.what(),
                 printed.c_str());
    std::abort();
  }
  if (!(again == trace) || format_trace(again) != printed) {
    std::fprintf(stderr, "round trip changed the trace\n--- printed:\n%s--- reprinted:\n%s",
                 printed.c_str(), format_trace(again).c_str());
    std::abort();
  }
  return 0;
}
