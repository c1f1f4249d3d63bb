// What each descriptor family contributes to hw/format.cc: its geometry rules and its codec.
// Internal to hw/.
#pragma once

#include "hw/format.h"

namespace iommu::hw {

// A descriptor the hardware faults on for `why` (an encoding the specification reserves).
inline Decoded reserved(std::string_view why) {
  Decoded d;
  d.kind = DescKind::kReserved;
  d.why = why;
  return d;
}

// Each validates ias/oas (and the granule) against Linux 6.12's limits for the format and throws
// std::invalid_argument with the accepted values.
// lpae_geometry also takes the start level (empty: Linux 6.12's choice).
Geometry lpae_geometry(FormatId id, unsigned ias, unsigned oas,
                       std::optional<unsigned> start_level);
Geometry v7s_geometry(unsigned ias, unsigned oas);
Geometry dart_geometry(FormatId id, unsigned ias, unsigned oas, uint64_t granule);
Geometry amd_v1_geometry(unsigned ias, unsigned oas);
// vtd-ss and x86-64 share the x86 4/5-level geometry.
Geometry x86_geometry(FormatId id, unsigned ias, unsigned oas);
// Sv39/Sv48/Sv57: the ias is the mode's; oas 32..56.
Geometry riscv_geometry(FormatId id, unsigned ias, unsigned oas);

extern const Codec kLpaeCodec;
extern const Codec kV7sCodec;
extern const Codec kDartCodec;
extern const Codec kAmdV1Codec;
extern const Codec kVtdSsCodec;
extern const Codec kX86_64Codec;
extern const Codec kRiscvCodec;

}  // namespace iommu::hw
