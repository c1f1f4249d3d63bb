// The counter rule of impl/flush_queue.cc (dma-iommu's fq_flush_start_cnt and
// fq_flush_finish_cnt) over a number type W: uint64_t, or a Z3 integer (the counters never
// wrap: 2^64 flushes would take millennia, so the proof counts in the naturals). What a
// queued entry is tagged with and when it may be freed; the proof and the FlushQueue
// correspondence test share these.
#pragma once

namespace iommu::proofs {

enum class FqFlaw {
  kNone,
  kFinishTag,  // entries tagged with the finish count instead of the start count
};

// queue_iova: the tag of an entry queued when start_cnt flushes have started and finish_cnt
// have finished.
template <class W>
W fq_tag(const W& start_cnt, const W& finish_cnt, FqFlaw flaw = FqFlaw::kNone) {
  return flaw == FqFlaw::kFinishTag ? finish_cnt : start_cnt;
}

// fq_ring_free_locked: an entry may go back to the allocator once tag < finish_cnt.
template <class W>
auto fq_may_free(const W& tag, const W& finish_cnt) {
  return tag < finish_cnt;
}

}  // namespace iommu::proofs
