#include "conform/contract.h"

namespace iommu::conform {

ref::Verdict contract_verdict(const ref::RefDomain& d, const Op& op) {
  if (auto* o = std::get_if<MapOp>(&op)) {
    return ref::contract_map(d, o->iova, o->paddr, o->size, o->prot);
  }
  if (auto* o = std::get_if<MapNosyncOp>(&op)) {
    return ref::contract_map(d, o->iova, o->paddr, o->size, o->prot);
  }
  if (auto* o = std::get_if<MapSgOp>(&op)) {
    return ref::contract_map_sg(d, o->iova, o->segs, o->prot);
  }
  if (auto* o = std::get_if<UnmapOp>(&op)) return ref::contract_unmap(d, o->iova, o->size);
  if (auto* o = std::get_if<UnmapFastOp>(&op)) return ref::contract_unmap(d, o->iova, o->size);
  if (auto* o = std::get_if<MapPagesOp>(&op)) {
    return ref::contract_map_pages(d, {o->iova, o->paddr, o->pgsize, o->pgcount, o->prot});
  }
  if (auto* o = std::get_if<UnmapPagesOp>(&op)) {
    return ref::contract_unmap_pages(d, {o->iova, o->pgsize, o->pgcount});
  }
  return std::nullopt;
}

}  // namespace iommu::conform
