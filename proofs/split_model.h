// One turn of the core's map and unmap loops (iommu_map_nosync and __iommu_unmap, as in
// ref/domain.cc and impl/domain.cc), and map_sg's merge of physically contiguous segments,
// written over a number type. The driver's answer is a parameter: `room` is how many bytes the
// page table takes before it stops (at a table boundary, say); it maps min(room, the chunk).
#pragma once

#include <vector>

#include "proofs/pgsize_model.h"

namespace iommu::proofs {

enum class SplitVariant {
  kLinux,
  kPaddrNotAdvanced,  // map: paddr stays at the start of the request
  kAdvanceOnePage,    // unmap: iova advances by pgsize, not by what was unmapped
  kWholeSizeAsked,    // unmap: iommu_pgsize asked for size, not size - unmapped
};

template <class W>
struct MapState {
  W iova, paddr, size;  // what is left to map
};

template <class W>
struct MapTurn {
  PgsizeModel<W> choice;
  W mapped;  // bytes the page table mapped
  MapState<W> next;
};

// The turn once iommu_pgsize chose c (the proofs pass a choice that only meets its contract).
template <class W>
MapTurn<W> map_turn_with(const MapState<W>& s, const PgsizeModel<W>& c, const W& room,
                         SplitVariant v = SplitVariant::kLinux) {
  const W chunk = c.bytes;
  const W mapped = ite(ule(room, chunk), room, chunk);
  const W paddr = v == SplitVariant::kPaddrNotAdvanced ? s.paddr : s.paddr + mapped;
  return {c, mapped, {s.iova + mapped, paddr, s.size - mapped}};
}

template <class W>
MapTurn<W> map_turn(const W& bitmap, const MapState<W>& s, const W& room,
                    SplitVariant v = SplitVariant::kLinux, PgsizeVariant pv = PgsizeVariant::kLinux) {
  return map_turn_with(s, pgsize_model(bitmap, s.iova, s.paddr, s.size, pv), room, v);
}

template <class W>
struct UnmapState {
  W iova, unmapped;  // the loop runs while unmapped < size
};

template <class W>
struct UnmapTurn {
  PgsizeModel<W> choice;
  W unmapped;  // bytes the page table unmapped
  UnmapState<W> next;
};

// The size the unmap loop asks iommu_pgsize about (with iova as paddr).
template <class W>
W unmap_asked(const W& size, const UnmapState<W>& s, SplitVariant v = SplitVariant::kLinux) {
  return v == SplitVariant::kWholeSizeAsked ? size : size - s.unmapped;
}

template <class W>
UnmapTurn<W> unmap_turn_with(const UnmapState<W>& s, const PgsizeModel<W>& c, const W& room,
                             SplitVariant v = SplitVariant::kLinux) {
  const W chunk = c.bytes;
  const W n = ite(ule(room, chunk), room, chunk);
  const W step = v == SplitVariant::kAdvanceOnePage ? c.pgsize : n;
  return {c, n, {s.iova + step, s.unmapped + n}};
}

template <class W>
UnmapTurn<W> unmap_turn(const W& bitmap, const W& size, const UnmapState<W>& s, const W& room,
                        SplitVariant v = SplitVariant::kLinux,
                        PgsizeVariant pv = PgsizeVariant::kLinux) {
  return unmap_turn_with(s, pgsize_model(bitmap, s.iova, s.iova, unmap_asked(size, s, v), pv),
                         room, v);
}

template <class W>
struct Segment {
  W paddr, length;
};

// One iommu_map_nosync call of map_sg: [iova + offset, + length) -> [paddr, + length).
template <class W>
struct Run {
  BoolOf<W> valid;  // the merge emitted it (fixed-size unrolling keeps the slot either way)
  W offset, paddr, length;
};

enum class MergeVariant {
  kLinux,
  kDropsLastRun,    // the run still open after the last segment is never mapped
  kMergeKeepsLength,  // a segment merged into the open run does not lengthen it
};

// The run map_sg has open: iova offset `mapped`, paddr `start`, `length` bytes.
template <class W>
struct MergeState {
  W start, length, mapped;
};

template <class W>
struct MergeStep {
  Run<W> closed;  // valid when the segment did not continue the open run
  MergeState<W> next;
};

// map_sg's inner loop for the next segment (non-zero length; a zero one is -EINVAL): it
// continues the open run when physically contiguous with it, else the open run is mapped and
// the segment opens the next.
template <class W>
MergeStep<W> merge_step(const MergeState<W>& s, const Segment<W>& seg,
                        MergeVariant v = MergeVariant::kLinux) {
  const BoolOf<W> merge = seg.paddr == s.start + s.length;
  const W grown = v == MergeVariant::kMergeKeepsLength ? s.length : s.length + seg.length;
  return {{!merge, s.mapped, s.start, s.length},
          {ite(merge, s.start, seg.paddr), ite(merge, grown, seg.length),
           ite(merge, s.mapped, s.mapped + s.length)}};
}

template <class W>
MergeState<W> merge_start(const Segment<W>& first) {
  return {first.paddr, first.length, lit(first.length, 0)};
}

// The run map_sg maps after the last segment.
template <class W>
Run<W> merge_last(const MergeState<W>& s, MergeVariant v = MergeVariant::kLinux) {
  return {truth(s.length, v != MergeVariant::kDropsLastRun), s.mapped, s.start, s.length};
}

// The runs map_sg maps, one slot per segment: the run closed before segment j (when j does not
// continue it) and the last run.
template <class W>
std::vector<Run<W>> merge_runs(const std::vector<Segment<W>>& segs,
                               MergeVariant v = MergeVariant::kLinux) {
  std::vector<Run<W>> runs;
  MergeState<W> s = merge_start(segs[0]);
  for (size_t j = 1; j < segs.size(); j++) {
    const MergeStep<W> step = merge_step(s, segs[j], v);
    runs.push_back(step.closed);
    s = step.next;
  }
  runs.push_back(merge_last(s, v));
  return runs;
}

}  // namespace iommu::proofs
