// The invalidation encoders of hw/invalidation_encode.cc and the decoders of
// hw/invalidation_{amd,vtd,smmu}.cc, written once over a number type W (uint64_t or a 64-bit
// Z3 bit-vector, proofs/flush_word.h). The proofs instantiate them with Z3 expressions; the
// correspondence tests instantiate them with uint64_t and compare them with hw/, exhaustively
// at small widths and on random 64-bit inputs. Each flaw re-creates a historical Linux bug
// for the broken variants. Counts and sizes use masks rather than division.
#pragma once

#include <cstdint>

#include "proofs/flush_word.h"

namespace iommu::proofs {

// An inclusive decoded range [first, last].
template <class W>
struct Span {
  W first;
  W last;
};

// ---- AMD-Vi: build_inv_address and the S-bit decode -------------------------------------

enum class AmdFlaw {
  kNone,
  kParenthesis,  // address |= 1 << (msb - 1) instead of (1 << msb) - 1 (BUGS 10)
};

// The address word for [start, last], S in bit 0 (hw::amd_inv_address).
template <class W>
W amd_inv_address(const W& start, const W& last, AmdFlaw flaw = AmdFlaw::kNone) {
  using namespace word;
  const W page_mask = k(start, ~uint64_t{0xfff});
  const W diff = start ^ last;
  const W below_msb = lshr(smear(diff), 1u);  // low_mask(fls64_idx(diff))
  const W fill = flaw == AmdFlaw::kParenthesis ? lshr(smear(diff) ^ below_msb, 1u) : below_msb;
  const W address = ite(lshr(diff, 52u) != k(start, 0), k(start, 0x7fffffffffffffff), start | fill);
  return ite(lshr(start, 12u) == lshr(last, 12u), start & page_mask,
             (address & page_mask) | k(start, 1));
}

// What INVALIDATE_IOMMU_PAGES with this address word covers (hw::amd_decode): with S=1 the
// run of ones from bit 12 up, plus one, is log2 of the page count.
template <class W>
Span<W> amd_pages_span(const W& address) {
  using namespace word;
  const W addr = address & k(address, ~uint64_t{0xfff});
  const W pages = lshr(addr, 12u);
  const W run = pages ^ (pages + k(address, 1));  // trailing ones and the zero above them
  const W mask = ite((address & k(address, 1)) != k(address, 0), shl(run, 12u) | k(address, 0xfff),
                     k(address, 0xfff));
  const W base = addr & ~mask;
  return {base, base | mask};
}

// ---- AMD-Vi under NpCache: amd_iommu_domain_flush_pages' naturally aligned chunks ------

// The next chunk of the split loop in impl/iommu_driver_amd.cc: the largest power of two
// that fits the remaining size and keeps address aligned (address 0 is aligned to anything).
template <class W>
W amd_np_chunk(const W& address, const W& size) {
  using namespace word;
  const W top = smear(size) ^ lshr(smear(size), 1u);  // bit(fls64_idx(size))
  return ite(address == k(address, 0), top, umin(low_bit(address), top));
}

// ---- VT-d: calculate_psi_aligned_address and the PSI decode ------------------------------

enum class VtdFlaw {
  kNone,
  kNoWiden,     // before 59bf3557cf2f: the mask is not widened for an unaligned start
  kStalePages,  // before 0a3f6b346301: the page count is not recomputed after widening, and
                // the descriptor is built from the aligned address and that count
};

template <class W>
struct VtdPsi {
  W am;    // the address-mask field: 2^am pages
  W addr;  // the address field
};

// The PSI descriptor fields for [start, last] (hw::vtd_encode_range, before the MAMV check).
template <class W>
VtdPsi<W> vtd_psi(const W& start, const W& last, VtdFlaw flaw = VtdFlaw::kNone) {
  using namespace word;
  const W pfn = lshr(start, 12u);
  const W end_pfn = lshr(last, 12u);
  const W bitmask = smear(end_pfn - pfn);  // bit_ceil(pages) - 1
  const W shared = ~(pfn ^ end_pfn) & ~bitmask;
  // The lowest bit above bitmask where both ends agree bounds the block holding both.
  const W widened = ite(shared != k(start, 0), low_bit(shared) - k(start, 1), low_mask(start, 52));
  const W unaligned = (bitmask & pfn) != k(start, 0);
  const W mask = flaw == VtdFlaw::kNoWiden ? bitmask : ite(unaligned, widened, bitmask);
  const W addr = start & ~(shl(mask, 12u) | k(start, 0xfff));
  const W am = popcount(flaw == VtdFlaw::kStalePages ? bitmask : mask);
  return {am, addr};
}

// What a page-selective descriptor covers (hw::vtd_decode): 2^am pages, aligned.
template <class W>
Span<W> vtd_psi_span(const W& am, const W& addr) {
  using namespace word;
  const W mask = shl(k(am, 1), am + k(am, 12)) - k(am, 1);
  const W base = addr & ~mask;
  return {base, base | mask};
}

// ---- Arm SMMUv3: __arm_smmu_tlb_inv_range ------------------------------------------------

enum class SmmuFlaw {
  kNone,
  kNoNumBump,  // before eb6c97647be2: a non-leaf range of one page is sent as NUM=SCALE=TTL=0
  kTtlOnWalk,  // before 6833b8f2e199: walk flushes carry the TTL of the nominal granule
};

// The level whose leaves have this size (hw's smmu_leaf_ttl, for a granule it accepts).
template <class W>
W smmu_leaf_ttl(const W& granule, unsigned tg) {
  using namespace word;
  const W span_bits = log2_pow2(granule) - k(granule, 3);
  // The quotient by (tg - 3) of a number below 64, as a ladder of compares.
  W levels = k(granule, 0);
  for (unsigned q = 1; q <= 3; ++q) {
    levels = ite(ule(k(granule, q * (tg - 3)), span_bits), k(granule, q), levels);
  }
  return k(granule, 4) - levels;
}

// The leaf size a TTL hint names (hw::smmu_decode); 0 for no hint.
template <class W>
W smmu_ttl_leaf_size(const W& ttl, unsigned tg) {
  using namespace word;
  W size = k(ttl, 0);
  for (unsigned level = 1; level <= 3; ++level) {
    size = ite(ttl == k(ttl, level), k(ttl, uint64_t{1} << (tg + (3 - level) * (tg - 3))), size);
  }
  return size;
}

// The loop's starting point: first page address, page count and TTL.
template <class W>
struct SmmuRangeStart {
  W addr;
  W num_pages;
  W ttl;
};

template <class W>
SmmuRangeStart<W> smmu_range_start(const W& iova, const W& last, const W& granule, bool leaf,
                                   unsigned tg, SmmuFlaw flaw = SmmuFlaw::kNone) {
  using namespace word;
  const W first = lshr(iova, tg);
  W num_pages = lshr(last, tg) - first + k(iova, 1);
  const W ttl = leaf || flaw == SmmuFlaw::kTtlOnWalk ? smmu_leaf_ttl(granule, tg) : k(iova, 0);
  if (!leaf && flaw != SmmuFlaw::kNoNumBump) {
    num_pages = ite((num_pages & k(iova, 31)) == k(iova, 1), num_pages + k(iova, 1), num_pages);
  }
  return {shl(first, tg), num_pages, ttl};
}

// One command of the loop: SCALE, NUM (the count, 1..32; the field holds num - 1) and the pages
// it consumes from the lowest set bit of num_pages (num_pages != 0).
template <class W>
struct SmmuRangeStep {
  W scale;
  W num;
  W pages;
};

template <class W>
SmmuRangeStep<W> smmu_range_step(const W& num_pages) {
  using namespace word;
  const W max_scale = k(num_pages, 31);
  const W scale = umin(log2_pow2(low_bit(num_pages)), max_scale);
  const W above = lshr(num_pages, scale);
  const W num = ite(ult(scale, max_scale), above & k(num_pages, 31), umin(above, k(num_pages, 32)));
  return {scale, num, shl(num, scale)};
}

// What a range TLBI with these fields covers (hw::smmu_decode): (NUM + 1) << SCALE pages of
// 2^tg from the page of addr, clamped at the top of the space.
template <class W>
Span<W> smmu_range_span(const W& addr, const W& scale, const W& num, unsigned tg) {
  using namespace word;
  const W base = addr & ~low_mask(addr, tg);
  const W size = shl(num, scale + k(addr, tg));
  const W last = base + (size - k(addr, 1));
  return {base, ite(ult(last, base), k(addr, ~uint64_t{0}), last)};
}

// ---- Arm SMMUv3 without range invalidation: one TG=0 command per granule -----------------

enum class SmmuSingleFlaw {
  kNone,
  kNoLastPage,  // the count misses the granule holding last: (last >> shift) - first
};

// The loop of single-address commands (hw's smmu_single_address): the first command's address
// and the count, for a granule of 2^shift (the leaf size, or the page for a walk flush).
template <class W>
struct SmmuSingle {
  W first_addr;
  W count;
};

template <class W>
SmmuSingle<W> smmu_single_start(const W& iova, const W& last, unsigned shift,
                                SmmuSingleFlaw flaw = SmmuSingleFlaw::kNone) {
  using namespace word;
  const W first = lshr(iova, shift);
  const W extra = flaw == SmmuSingleFlaw::kNoLastPage ? k(iova, 0) : k(iova, 1);
  return {shl(first, shift), lshr(last, shift) - first + extra};
}

// The address of command i (i < count); a TG=0 command covers the 4K page holding it
// (hw::smmu_decode), NUM = SCALE = TTL = 0 always.
template <class W>
W smmu_single_addr(const SmmuSingle<W>& s, const W& i, unsigned shift) {
  return s.first_addr + word::shl(i, shift);
}

}  // namespace iommu::proofs
