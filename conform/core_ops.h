// The core API ops of a trace (map, unmap, map_sg, the syncs, iova_to_phys) run alike on the
// driver's side (impl::Domain) and on the reference's (ref::RefDomain), which share the Linux
// core's method names. The io-pgtable ops and the device accesses, which each side runs its
// own way, go to `rest`.
#pragma once

#include <cstdint>
#include <variant>

#include "conform/op.h"
#include "conform/overloaded.h"

namespace iommu::conform {

// `gather(label)` is the side's gather for a trace's gather label. Returns what a caller sees:
// 0 or -errno for maps, bytes (or -errno) for unmaps and map_sg, the paddr for iova_to_phys,
// 0 for syncs; `rest` returns the same for the other ops.
template <class Domain, class GatherOf, class Rest>
int64_t apply_core_op(Domain& d, const Op& op, GatherOf&& gather, Rest&& rest) {
  auto bytes = [](uint64_t n) { return static_cast<int64_t>(n); };
  return std::visit(
      Overloaded{
          [&](const MapOp& o) -> int64_t { return d.map(o.iova, o.paddr, o.size, o.prot); },
          [&](const MapNosyncOp& o) -> int64_t {
            return d.map_nosync(o.iova, o.paddr, o.size, o.prot);
          },
          [&](const IotlbSyncMapOp& o) -> int64_t {
            d.iotlb_sync_map(o.iova, o.size);
            return 0;
          },
          [&](const UnmapOp& o) -> int64_t { return bytes(d.unmap(o.iova, o.size)); },
          [&](const UnmapFastOp& o) -> int64_t {
            return bytes(d.unmap_fast(o.iova, o.size, gather(o.gather)));
          },
          [&](const IotlbSyncOp& o) -> int64_t {
            d.iotlb_sync(gather(o.gather));
            return 0;
          },
          [&](const FlushIotlbAllOp&) -> int64_t {
            d.flush_iotlb_all();
            return 0;
          },
          [&](const MapSgOp& o) -> int64_t { return d.map_sg(o.iova, o.segs, o.prot); },
          [&](const IovaToPhysOp& o) -> int64_t { return bytes(d.iova_to_phys(o.iova)); },
          [&](const auto& o) -> int64_t { return rest(o); },
      },
      op);
}

}  // namespace iommu::conform
