#include "proofs/format.h"

namespace iommu::proofs {
namespace {

Property renamed(Property p, const char* mutation) {
  p.name += std::string("/") + mutation;
  return p;
}

}  // namespace

std::vector<Property> format_properties() {
  using V = FormatVariant;
  return {geometry_property("level-index-bijection", V::kHw),
          geometry_property("table-entries-left", V::kHw),
          geometry_property("level-block-size", V::kHw),
          geometry_property("v7s-replication", V::kHw),
          packing_property("lpae-paddr-roundtrip", V::kHw),
          packing_property("v7s-paddr-roundtrip", V::kHw),
          packing_property("dart-paddr-roundtrip", V::kHw)};
}

std::vector<Property> format_broken_variants() {
  using V = FormatVariant;
  return {
      renamed(geometry_property("level-index-bijection", V::kPgdNotConcatenated),
              "pgd-not-concatenated"),
      renamed(geometry_property("table-entries-left", V::kPtesPerTable), "d71fa842d33c"),
      renamed(geometry_property("level-block-size", V::kGranuleOffset), "granule-offset"),
      renamed(geometry_property("v7s-replication", V::kReplicaIndexByPage), "index-by-page"),
      renamed(packing_property("lpae-paddr-roundtrip", V::kRawTableAddress), "9abe2ac83485"),
      renamed(packing_property("v7s-paddr-roundtrip", V::kV7sTableAddress4k),
              "table-address-4k"),
      renamed(packing_property("dart-paddr-roundtrip", V::kDart2Unshifted), "dart2-unshifted"),
  };
}

}  // namespace iommu::proofs
