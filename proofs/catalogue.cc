#include "proofs/alignment.h"
#include "proofs/flush.h"
#include "proofs/format.h"
#include "proofs/proofs.h"

namespace iommu::proofs {
namespace {

void append(std::vector<Property>& to, std::vector<Property> more) {
  for (Property& p : more) to.push_back(std::move(p));
}

}  // namespace

std::vector<Property> all_properties() {
  std::vector<Property> all = alignment_properties();
  append(all, format_properties());
  append(all, flush_properties());
  return all;
}

std::vector<Property> broken_variants() {
  std::vector<Property> all = alignment_broken_variants();
  append(all, format_broken_variants());
  append(all, flush_broken_variants());
  return all;
}

}  // namespace iommu::proofs
