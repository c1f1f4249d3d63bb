// libFuzzer target for the iommufd-style storage (iopt/, docs/IOPT.md): the input's bytes are
// the choices of `check --driver iopt:`'s campaign (conform::IoptOpPicker: map_user, copy,
// unmap, attach, detach, add and remove access, reads and writes, allocation failures armed
// before any operation), judged after every operation by the same checker and reference. A
// violation aborts after printing it and its trace, which `iommucheck replay` re-runs.
//
// Input: byte 0 is the caller (bit 0: hostile) and the batch size (PfnBatch runs, 1..8), byte 1
// the pin chunk (1..40 pages), bytes 2 and 3 the user memory layout (longest PFN run 1..12, its
// seed); then every choice is two bytes, little-endian, until the input ends or kMaxOps ran.
//
// Environment: IOMMUCHECK_MUTANT=NAME switches one of the storage's seeded bugs on (a name of
// `iommucheck mutants --driver-source iopt`); IOMMUCHECK_FUZZ_FORMAT=FORMAT is the impl format
// of the three domains (default arm-64-lpae-s1-4k).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>

#include "conform/impl_driver.h"
#include "conform/iopt_checker.h"
#include "conform/iopt_trace.h"
#include "conform/registry.h"

namespace {

using iommu::conform::IoptChecker;
using iommu::conform::IoptScenario;
namespace iopt = iommu::iopt;

constexpr size_t kMaxOps = 256;
constexpr unsigned kDomains = 3;

std::string format_name() {
  const char* f = std::getenv("IOMMUCHECK_FUZZ_FORMAT");
  return f && *f ? f : "arm-64-lpae-s1-4k";
}

iopt::Mutant mutant_from_env() {
  const char* name = std::getenv("IOMMUCHECK_MUTANT");
  if (!name || !*name) return iopt::Mutant::kNone;
  for (iopt::Mutant m : iopt::kAllMutants)
    if (iopt::mutant_name(m) == name) return m;
  std::fprintf(stderr, "IOMMUCHECK_MUTANT=%s: no such mutant; valid names:", name);
  for (iopt::Mutant m : iopt::kAllMutants)
    std::fprintf(stderr, " %.*s", int(iopt::mutant_name(m).size()), iopt::mutant_name(m).data());
  std::fprintf(stderr, "\n");
  std::exit(2);
}

struct Setup {
  iommu::conform::DriverSource domain;
  iopt::Mutant mutant;
};

const Setup& setup() {
  static const Setup s = [] {
    try {
      return Setup{iommu::conform::impl_driver_source(format_name()), mutant_from_env()};
    } catch (const std::exception& e) {
      std::fprintf(stderr, "IOMMUCHECK_FUZZ_FORMAT: %s\n", e.what());
      std::exit(2);
    }
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  std::span<const uint8_t> in(data, size);
  IoptScenario s;
  s.config.batch_runs = 1 + (in[0] >> 1) % 8;
  s.config.pin_chunk = 1 + in[1] % 40;
  s.config.mutant = setup().mutant;
  s.layout = iopt::UserMemory::scattered_layout(128, 1 + in[2] % 12, in[3]);
  s.domains.assign(kDomains, setup().domain);
  const auto mode =
      in[0] & 1 ? iommu::conform::CallerMode::kHostile : iommu::conform::CallerMode::kContract;
  in = in.subspan(4);
  auto draw = [&in]() -> uint64_t {
    uint64_t v = 0;
    for (int i = 0; i < 2 && !in.empty(); ++i, in = in.subspan(1)) v |= uint64_t{in[0]} << (8 * i);
    return v;
  };
  IoptChecker h(s);
  iommu::conform::IoptOpPicker picker(h, draw, mode);
  for (size_t n = 0; n < kMaxOps && !in.empty() && h.violations.empty(); ++n) picker.step();
  if (h.violations.empty()) h.apply({.kind = iommu::conform::IoptOp::Kind::kTeardown});
  if (h.violations.empty()) return 0;
  const iommu::conform::IoptFinding f =
      iommu::conform::minimize_iopt(s, h.ops, h.violations.front(), 2000);
  iommu::conform::IoptTrace t = iommu::conform::iopt_trace_of(s, f.ops);
  t.driver = "iopt:" + format_name();
  std::fprintf(stderr, "VIOLATION: %s\n--- trace (iommucheck replay FILE)\n%s--- end of trace\n",
               f.violation.c_str(),
               iommu::conform::format_iopt_trace(t, "found by fuzz_iopt").c_str());
  std::abort();
}
