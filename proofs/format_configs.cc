#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "proofs/format.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

std::vector<FormatCase> enumerate() {
  std::vector<FormatCase> cases;
  for (std::string_view name : hw::format_names()) {
    // The proofs' format model knows the io-pgtable families only.
    if (hw::make_format({std::string(name)}).family() == hw::Family::kRiscv) continue;
    const bool dart = name.starts_with("apple-dart");
    for (uint64_t granule : dart ? std::vector<uint64_t>{0x1000, 0x4000} : std::vector<uint64_t>{0})
      for (unsigned ias = 12; ias <= 64; ias++)
        for (unsigned oas = 12; oas <= 64; oas++) {
          try {
            hw::Format f = hw::make_format({std::string(name), ias, oas, granule});
            cases.push_back({f, fmt::format("{} granule={:#x} ias={} oas={}", name,
                                            f.geo().granule, ias, oas)});
          } catch (const std::invalid_argument&) {
            // not a configuration hw accepts
          }
        }
  }
  return cases;
}

}  // namespace

const std::vector<FormatCase>& format_cases() {
  static const std::vector<FormatCase> kCases = enumerate();
  return kCases;
}

std::vector<const FormatCase*> distinct_cases(
    const std::function<std::string(const FormatCase&)>& key) {
  std::vector<const FormatCase*> out;
  std::set<std::string> seen;
  for (const FormatCase& c : format_cases())
    if (seen.insert(key(c)).second) out.push_back(&c);
  return out;
}

Outcome over_cases(const std::vector<const FormatCase*>& cases, const CaseProof& one,
                   unsigned timeout_ms) {
  Stopwatch clock;
  z3::context ctx;
  Outcome out;
  out.status = Status::kProved;
  for (const FormatCase* c : cases) {
    Outcome o = one(*c, ctx, clock.remaining_ms(timeout_ms));
    if (o.status != Status::kProved) {
      out = std::move(o);
      out.model.insert(out.model.begin(), "format = " + c->label);
      break;
    }
  }
  out.seconds = clock.seconds();
  return out;
}

}  // namespace iommu::proofs
