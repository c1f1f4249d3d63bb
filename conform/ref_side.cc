#include "conform/ref_side.h"

#include "conform/overloaded.h"

namespace iommu::conform {
namespace {

int64_t bytes(uint64_t n) { return static_cast<int64_t>(n); }

}  // namespace

ref::GatherId RefSide::gather(GatherLabel label) {
  auto [it, fresh] = gathers_.try_emplace(label);
  if (fresh) it->second = domain_.new_gather();
  return it->second;
}

int64_t RefSide::apply(const Op& op) {
  ref::RefDomain& d = domain_;
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
          [&](const UnmapOp& o) { return bytes(d.unmap(o.iova, o.size)); },
          [&](const UnmapFastOp& o) { return bytes(d.unmap_fast(o.iova, o.size, gather(o.gather))); },
          [&](const IotlbSyncOp& o) -> int64_t {
            d.iotlb_sync(gather(o.gather));
            return 0;
          },
          [&](const FlushIotlbAllOp&) -> int64_t {
            d.flush_iotlb_all();
            return 0;
          },
          [&](const MapSgOp& o) { return d.map_sg(o.iova, o.segs, o.prot); },
          [&](const IovaToPhysOp& o) { return bytes(d.iova_to_phys(o.iova)); },
          [&](const MapPagesOp& o) -> int64_t {
            return d.map_pages({o.iova, o.paddr, o.pgsize, o.pgcount, o.prot}).ret;
          },
          [&](const UnmapPagesOp& o) {
            const ref::GatherId g = o.gather ? gather(*o.gather) : ref::RefDomain::kSynced;
            return bytes(d.unmap_pages({o.iova, o.pgsize, o.pgcount}, g));
          },
          [&](const ReadOp&) -> int64_t { return 0; },
          [&](const WriteOp&) -> int64_t { return 0; },
      },
      op);
}

}  // namespace iommu::conform
