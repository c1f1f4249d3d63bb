#include "proofs/alignment.h"

namespace iommu::proofs {
namespace {

const char* const kPgsize[] = {"pgsize-in-bitmap", "pgsize-aligns", "pgsize-count-fits",
                               "pgsize-maximal", "pgsize-no-missed-larger"};
const char* const kSplit[] = {"map-split-invariant",   "map-split-progress",   "map-split-cover",
                              "unmap-split-invariant", "unmap-split-progress", "unmap-split-cover"};

Property renamed(Property p, const char* mutation) {
  p.name += std::string("/") + mutation;
  return p;
}

}  // namespace

std::vector<Property> alignment_properties() {
  std::vector<Property> all;
  for (const char* name : kPgsize) all.push_back(pgsize_property(name, PgsizeVariant::kLinux));
  for (const char* name : kSplit)
    all.push_back(split_property(name, SplitVariant::kLinux, PgsizeVariant::kLinux));
  all.push_back(merge_property("map-sg-merge-maps-once", MergeVariant::kLinux));
  return all;
}

std::vector<Property> alignment_broken_variants() {
  using P = PgsizeVariant;
  using S = SplitVariant;
  return {
      renamed(pgsize_property("pgsize-in-bitmap", P::kNoBitmapMask), "no-bitmap-mask"),
      renamed(pgsize_property("pgsize-aligns", P::kIovaOnlyAlignment), "iova-only-alignment"),
      renamed(pgsize_property("pgsize-count-fits", P::kSizeBitOffByOne), "size-bit-off-by-one"),
      renamed(pgsize_property("pgsize-maximal", P::kSmallestSize), "smallest-size"),
      renamed(pgsize_property("pgsize-no-missed-larger", P::kNoStopForLarger), "no-stop"),
      renamed(split_property("map-split-invariant", S::kPaddrNotAdvanced, P::kLinux),
              "paddr-not-advanced"),
      renamed(split_property("map-split-progress", S::kLinux, P::kNoSizeMask), "no-size-mask"),
      renamed(split_property("map-split-cover", S::kLinux, P::kCountRoundedUp),
              "count-rounded-up"),
      renamed(split_property("unmap-split-invariant", S::kAdvanceOnePage, P::kLinux),
              "advance-one-page"),
      renamed(split_property("unmap-split-progress", S::kLinux, P::kNoSizeMask), "no-size-mask"),
      renamed(split_property("unmap-split-cover", S::kWholeSizeAsked, P::kLinux),
              "whole-size-asked"),
      renamed(merge_property("map-sg-merge-maps-once", MergeVariant::kDropsLastRun),
              "drops-last-run"),
      renamed(merge_property("map-sg-merge-maps-once", MergeVariant::kMergeKeepsLength),
              "merge-keeps-length"),
  };
}

}  // namespace iommu::proofs
