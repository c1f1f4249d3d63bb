#include "iopt/config.h"

namespace iommu::iopt {

std::string_view mutant_name(Mutant m) {
  switch (m) {
    case Mutant::kNone:
      return "none";
    case Mutant::kPinTwice:
      return "iopt-pin-twice";
    case Mutant::kUnfilledAttach:
      return "iopt-unfilled-attach";
    case Mutant::kLeakPinOnError:
      return "iopt-leak-pin-on-error";
    case Mutant::kUnpinAcrossAccess:
      return "iopt-unpin-across-access";
    case Mutant::kMapPerPage:
      return "iopt-map-per-page";
    case Mutant::kKeepXarray:
      return "iopt-keep-xarray";
  }
  return "?";
}

std::string_view mutant_description(Mutant m) {
  switch (m) {
    case Mutant::kNone:
      return "no seeded bug";
    case Mutant::kPinTwice:
      return "a PFN a domain stores is pinned again from the user";
    case Mutant::kUnfilledAttach:
      return "a domain left unfilled after attach";
    case Mutant::kLeakPinOnError:
      return "an unpin missed on the error path of a new area's map";
    case Mutant::kUnpinAcrossAccess:
      return "an unfill batch crosses into a span an access holds in the xarray and unpins it";
    case Mutant::kMapPerPage:
      return "a PFN run split into one map call per page";
    case Mutant::kKeepXarray:
      return "xarray entries left behind when an access goes";
  }
  return "?";
}

}  // namespace iommu::iopt
