// iommu_pgsize (ref/pgsize.cc, Linux's drivers/iommu/iommu.c) written over a number type, in
// masks instead of bit indices. tests/proofs checks the uint64_t instance against
// iommu::iommu_pgsize; the proofs decide the z3::expr instance. A variant other than kLinux
// re-introduces one bug, for the negative cases.
#pragma once

#include "proofs/word.h"

namespace iommu::proofs {

enum class PgsizeVariant {
  kLinux,
  kNoBitmapMask,       // the candidate sizes are not restricted to the bitmap
  kIovaOnlyAlignment,  // paddr's alignment is ignored (addr_merge = iova)
  kSizeBitOffByOne,    // genmask(fls(size) + 1, 0): one size too large admitted
  kSmallestSize,       // the lowest candidate is taken instead of the highest
  kNoSizeMask,         // the candidate sizes are not restricted by size at all
  kNoStopForLarger,    // never stops where a larger page could start
  kCountRoundedUp,     // count = DIV_ROUND_UP(size, pgsize)
};

// The size iommu_pgsize picks: the largest of the bitmap that fits in size and aligns iova and
// paddr. The chunk (below) is what it makes of that choice; the proofs decide the two apart.
template <class W>
struct PgsizeChoice {
  BoolOf<W> defined;  // false where Linux would BUG_ON (iommu_pgsize returns nullopt)
  W pgsize;
};

template <class W>
struct PgsizeModel {
  BoolOf<W> defined;
  W pgsize;
  W shift;  // log2(pgsize)
  W count;
  // count * pgsize in masks: what the proofs reason about (a symbolic shift is slow in Z3).
  // pgsize-count-fits proves it equal to count << shift; the tests check it on uint64_t.
  W bytes;
};

template <class W>
W pgsize_addr_merge(const W& iova, const W& paddr, PgsizeVariant v) {
  return v == PgsizeVariant::kIovaOnlyAlignment ? iova : iova | paddr;
}

template <class W>
PgsizeChoice<W> pgsize_choice(const W& bitmap, const W& iova, const W& paddr, const W& size,
                              PgsizeVariant v = PgsizeVariant::kLinux) {
  const W zero = lit(size, 0), one = lit(size, 1);
  const W addr_merge = pgsize_addr_merge(iova, paddr, v);
  W size_mask = fill_down(size);
  if (v == PgsizeVariant::kSizeBitOffByOne) size_mask = shl(size_mask, 1) | one;
  if (v == PgsizeVariant::kNoSizeMask) size_mask = ~zero;
  W pgsizes = v == PgsizeVariant::kNoBitmapMask ? size_mask : bitmap & size_mask;
  pgsizes = ite(addr_merge != zero, pgsizes & through_lowest(addr_merge), pgsizes);
  const W below = fill_down(pgsizes);  // genmask(pgsize_idx, 0)
  const W pgsize = v == PgsizeVariant::kSmallestSize ? lowest_bit(pgsizes) : below ^ shr(below, 1);
  return {size != zero && pgsizes != zero, pgsize};
}

// The smallest size of the bitmap above pgsize (0 if none): where the chunk may have to stop.
template <class W>
W pgsize_next(const W& bitmap, const W& pgsize) {
  return lowest_bit(bitmap & ~fill_down(pgsize));
}

// The pages iommu_pgsize returns for a choice: stop where a larger page could start, so the
// caller's next step can use it.
template <class W>
PgsizeModel<W> pgsize_chunk(const W& bitmap, const W& iova, const W& paddr, W size,
                            const PgsizeChoice<W>& choice,
                            PgsizeVariant v = PgsizeVariant::kLinux) {
  const W zero = lit(size, 0), one = lit(size, 1);
  const W pgsize = choice.pgsize, shift = log2_pow2(pgsize);
  const W next = pgsize_next(bitmap, pgsize);
  const W next_mask = next - one;
  const W offset = next - (pgsize_addr_merge(iova, paddr, v) & next_mask);
  const W offset_end = offset + next;
  const BoolOf<W> stop = next != zero && ((iova ^ paddr) & next_mask) == zero &&
                         ule(offset, offset_end) && ule(offset_end, size) &&
                         truth(size, v != PgsizeVariant::kNoStopForLarger);
  size = ite(stop, offset, size);
  if (v == PgsizeVariant::kCountRoundedUp) size = size + (pgsize - one);
  return {choice.defined, pgsize, shift, shr(size, shift), size & ~(pgsize - one)};
}

template <class W>
PgsizeModel<W> pgsize_model(const W& bitmap, const W& iova, const W& paddr, const W& size,
                            PgsizeVariant v = PgsizeVariant::kLinux) {
  return pgsize_chunk(bitmap, iova, paddr, size, pgsize_choice(bitmap, iova, paddr, size, v), v);
}

}  // namespace iommu::proofs
