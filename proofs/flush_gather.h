// The gather rules of impl/gather.h (include/linux/iommu.h and amd/iommu.c) over a number
// type W (proofs/flush_word.h): the proof instantiates them with Z3 expressions, the
// correspondence test with uint64_t against impl::iotlb_gather_add_page and
// impl::amd_iotlb_gather_add_page.
#pragma once

#include <cstdint>
#include <utility>

#include "proofs/flush_word.h"

namespace iommu::proofs {

template <class W>
struct Gather {
  W start;
  W end;  // inclusive
  W pgsize;
};

template <class W>
Gather<W> gather_empty(const W& like) {
  return {word::k(like, ~uint64_t{0}), word::k(like, 0), word::k(like, 0)};
}

// iommu_iotlb_gather_is_disjoint, with Linux's wrapping arithmetic.
template <class W>
auto gather_is_disjoint(const Gather<W>& g, const W& iova, const W& size) {
  using namespace word;
  const W end = iova + size - k(iova, 1);
  return g.end != k(iova, 0) && (ult(end + k(iova, 1), g.start) || ult(g.end + k(iova, 1), iova));
}

template <class W>
Gather<W> gather_add_range(const Gather<W>& g, const W& iova, const W& size) {
  using namespace word;
  const W end = iova + size - k(iova, 1);
  return {ite(ult(iova, g.start), iova, g.start), ite(ult(g.end, end), end, g.end), g.pgsize};
}

enum class GatherFlaw {
  kNone,
  kDropsDisjoint,  // a disjoint page re-inits the gather without syncing it
  kIgnoresPgsize,  // a page of another size merges (Linux rule)
};

// One add_page: whether `sync` was called, on which gather, and the gather after.
template <class W>
struct AddPage {
  decltype(std::declval<W>() == std::declval<W>()) synced;
  Gather<W> sync_arg;
  Gather<W> next;
};

// iommu_iotlb_gather_add_page (impl::iotlb_gather_add_page).
template <class W>
AddPage<W> linux_add_page(const Gather<W>& g, const W& iova, const W& size,
                          GatherFlaw flaw = GatherFlaw::kNone) {
  using namespace word;
  const auto disjoint = gather_is_disjoint(g, iova, size);
  const auto size_change =
      g.pgsize != k(iova, 0) && g.pgsize != size && flaw != GatherFlaw::kIgnoresPgsize;
  const auto restart = size_change || disjoint;
  const auto synced = restart && (!disjoint || flaw != GatherFlaw::kDropsDisjoint);
  const Gather<W> empty = gather_empty(iova);
  const Gather<W> base{ite(restart, empty.start, g.start), ite(restart, empty.end, g.end), size};
  return {synced, g, gather_add_range(base, iova, size)};
}

// amd_iommu_iotlb_gather_add_page (impl::amd_iotlb_gather_add_page); np_cache is a Boolean of
// the number type's kind. kDropsDisjoint drops the sync under NpCache.
template <class W, class B>
AddPage<W> amd_add_page(const Gather<W>& g, const W& iova, const W& size, const B& np_cache,
                        GatherFlaw flaw = GatherFlaw::kNone) {
  using namespace word;
  const auto restart = np_cache && gather_is_disjoint(g, iova, size);
  const auto synced = restart && flaw != GatherFlaw::kDropsDisjoint;
  const Gather<W> empty = gather_empty(iova);
  const Gather<W> base{ite(restart, empty.start, g.start), ite(restart, empty.end, g.end), size};
  return {synced, g, gather_add_range(base, iova, size)};
}

}  // namespace iommu::proofs
