#include "proofs/flush.h"
#include "proofs/flush_parts.h"

namespace iommu::proofs {
namespace {

std::vector<flush::Part> parts() {
  return {flush::gather_part(), flush::encoder_part(), flush::unmap_part(),
          flush::flush_queue_part(), flush::sync_map_part()};
}

}  // namespace

std::vector<Property> flush_properties() {
  std::vector<Property> out;
  for (flush::Part& p : parts())
    for (Property& prop : p.properties) out.push_back(std::move(prop));
  return out;
}

std::vector<Property> flush_broken_variants() {
  std::vector<Property> out;
  for (flush::Part& p : parts())
    for (Property& prop : p.broken) out.push_back(std::move(prop));
  return out;
}

}  // namespace iommu::proofs
