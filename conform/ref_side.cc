#include "conform/ref_side.h"

#include "conform/core_ops.h"

namespace iommu::conform {

ref::GatherId RefSide::gather(GatherLabel label) {
  auto [it, fresh] = gathers_.try_emplace(label);
  if (fresh) it->second = domain_.new_gather();
  return it->second;
}

int64_t RefSide::apply(const Op& op) {
  return apply_core_op(
      domain_, op, [&](GatherLabel label) { return gather(label); },
      Overloaded{
          [&](const MapPagesOp& o) -> int64_t {
            return domain_.map_pages({o.iova, o.paddr, o.pgsize, o.pgcount, o.prot}).ret;
          },
          [&](const UnmapPagesOp& o) -> int64_t {
            const ref::GatherId g = o.gather ? gather(*o.gather) : ref::RefDomain::kSynced;
            return static_cast<int64_t>(domain_.unmap_pages({o.iova, o.pgsize, o.pgcount}, g));
          },
          [](const auto&) -> int64_t { return 0; },  // device accesses
      });
}

}  // namespace iommu::conform
