// libFuzzer target for the DMA layer (docs/DMA.md): the input picks a scenario (mode, CPUs,
// queue size, timeout, DMA mask, caller) and a sequence of dma_map, dma_unmap, time, poll,
// drain and device-access operations, run by the DMA checker. A broken rule aborts, printing the
// trace, which `iommucheck replay` runs. IOMMUCHECK_MUTANT=NAME (a name of `iommucheck mutants
// --driver-source dma`) switches that seeded bug on in every scenario, to see the fuzzer find it.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "conform/dma_checker.h"
#include "impl/mutant.h"

using namespace iommu::conform;

namespace {

constexpr size_t kMaxOps = 400;

iommu::impl::Mutant bug = iommu::impl::Mutant::kNone;  // IOMMUCHECK_MUTANT's, for every input

DmaScenario scenario(FuzzedDataProvider& in) {
  DmaScenario s;
  s.format = in.PickValueInArray({"arm-64-lpae-s1-4k", "arm-64-lpae-s2-4k", "arm-v7s"});
  s.mode = in.PickValueInArray({DmaMode::kStrict, DmaMode::kPerCpu, DmaMode::kSingle});
  s.cpus = in.ConsumeIntegralInRange<unsigned>(1, 4);
  s.fq_entries = in.PickValueInArray<uint64_t>({2, 4, 8, 0});
  s.fq_timeout_ms = in.ConsumeIntegralInRange<uint64_t>(0, 20);
  s.dma_bits = in.PickValueInArray<unsigned>({16, 20, 32});
  s.caller = in.ConsumeBool() ? CallerMode::kHostile : CallerMode::kContract;
  return s;
}

// Labels come from a small set, so that unmaps and accesses name mappings that exist.
DmaOp op(FuzzedDataProvider& in, unsigned& next_label) {
  DmaOp o;
  const unsigned label = in.ConsumeIntegralInRange<unsigned>(0, 7);
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
    case 1:
      o.kind = DmaOpKind::kMap;
      o.label = next_label++;
      o.paddr = in.ConsumeIntegralInRange<uint64_t>(0, (uint64_t{1} << 32) - 1);
      o.size = in.ConsumeIntegralInRange<uint64_t>(in.ConsumeBool() ? 0 : 1, 0x40000);
      o.prot = in.ConsumeIntegralInRange<int>(1, 3);
      break;
    case 2:
      o.kind = DmaOpKind::kUnmap;
      o.label = next_label > label ? next_label - 1 - label : 0;
      o.size = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(1, 0x40000) : 0;
      o.cpu = in.ConsumeIntegralInRange<unsigned>(0, 5);
      break;
    case 3:
      o.kind = DmaOpKind::kUnmapIova;
      o.iova = in.ConsumeIntegral<uint32_t>();
      o.size = in.ConsumeIntegralInRange<uint64_t>(1, 0x10000);
      o.cpu = in.ConsumeIntegralInRange<unsigned>(0, 5);
      break;
    case 4:
      o.kind = DmaOpKind::kTick;
      o.ms = in.ConsumeIntegralInRange<uint64_t>(0, 1100);
      break;
    case 5:
      o.kind = DmaOpKind::kPoll;
      break;
    case 6:
      o.kind = DmaOpKind::kDrain;
      break;
    case 7:
    case 8:
      o.kind = DmaOpKind::kAccess;
      o.label = next_label > label ? next_label - 1 - label : 0;
      o.iova = in.ConsumeIntegralInRange<uint64_t>(0, 0x3ffff);
      o.write = in.ConsumeBool();
      break;
    default:
      o.kind = DmaOpKind::kAccessIova;
      o.iova = in.ConsumeIntegral<uint32_t>();
      o.write = in.ConsumeBool();
      break;
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("IOMMUCHECK_MUTANT");
  if (!name || !*name) return 0;
  for (const DmaMutantSpec& spec : dma_mutant_specs()) {
    if (spec.name == std::string_view(name)) {
      bug = spec.id;
      return 0;
    }
  }
  std::fprintf(stderr, "IOMMUCHECK_MUTANT=%s: no such mutant; valid names:", name);
  for (const DmaMutantSpec& spec : dma_mutant_specs())
    std::fprintf(stderr, " %.*s", static_cast<int>(spec.name.size()), spec.name.data());
  std::fprintf(stderr, "\n");
  std::exit(2);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  DmaTrace t;
  t.scenario = scenario(in);
  t.scenario.bug = bug;
  unsigned next_label = 0;
  while (in.remaining_bytes() > 0 && t.ops.size() < kMaxOps) t.ops.push_back(op(in, next_label));
  const DmaRunResult r = run_dma_trace(t);
  if (r.violation) {
    t.comment = r.violation->message();
    std::fprintf(stderr, "%s", format_dma_trace(t).c_str());
    std::abort();
  }
  return 0;
}
