// How one IO address space is built: batch sizes, and the seeded bug it carries when a bug
// zoo campaign asks for one (per instance, so two address spaces in one process never share
// a mutant; the storage reads it once per batch or per operation, never per page).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace iommu::iopt {

enum class Mutant {
  kNone,
  kPinTwice,           // a span a domain already stores is pinned again from the user
  kUnfilledAttach,     // attach fills only the first area into the new domain
  kLeakPinOnError,     // a failed map of a new area keeps the pins it took
  kUnpinAcrossAccess,  // unfill unpins through spans an in-kernel access still holds
  kMapPerPage,         // a PFN run mapped one page per iommu_map call
  kKeepXarray,         // removing an access leaves the entries a domain also stores
};

// The mutant's name as the bug zoo lists it ("none" for kNone), and its one-line description.
std::string_view mutant_name(Mutant m);
std::string_view mutant_description(Mutant m);
// Every mutant but kNone.
inline constexpr Mutant kAllMutants[] = {Mutant::kPinTwice,       Mutant::kUnfilledAttach,
                                         Mutant::kLeakPinOnError, Mutant::kUnpinAcrossAccess,
                                         Mutant::kMapPerPage,     Mutant::kKeepXarray};

struct IoptConfig {
  // PFN runs one batch holds: a batch is full only when a new run does not fit, so a run is
  // never cut by a batch boundary.
  size_t batch_runs = 32;
  // Pages pinned from the user per pin_user_pages call.
  uint64_t pin_chunk = 512;
  // Areas lie below this iova; a domain must translate everything below it to be attached.
  uint64_t iova_limit = uint64_t{1} << 32;
  Mutant mutant = Mutant::kNone;
};

}  // namespace iommu::iopt
