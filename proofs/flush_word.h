// One vocabulary of 64-bit word operations for two number types: uint64_t, where the code
// runs, and a Z3 bit-vector of width 64, where it is proved. A function template written with
// these (proofs/flush_encode.h, flush_gather.h) is the same text in the proof and in the
// correspondence tests that compare it with hw/ and impl/, so the two cannot drift apart.
// Shifts follow Z3: a shift by 64 or more gives 0 (C++ would be undefined). For Z3 the
// comparisons, shifts and ite are z3::ult, z3::shl, z3::ite..., found by argument lookup.
#pragma once

#include <z3++.h>

#include <cstdint>

namespace iommu::proofs::word {

using Z = z3::expr;

inline uint64_t k(uint64_t /*like*/, uint64_t v) { return v; }
inline Z k(const Z& like, uint64_t v) { return like.ctx().bv_val(v, 64); }

inline bool ult(uint64_t a, uint64_t b) { return a < b; }
inline bool ule(uint64_t a, uint64_t b) { return a <= b; }

inline uint64_t shl(uint64_t a, uint64_t n) { return n >= 64 ? 0 : a << n; }
inline uint64_t lshr(uint64_t a, uint64_t n) { return n >= 64 ? 0 : a >> n; }

inline uint64_t ite(bool c, uint64_t a, uint64_t b) { return c ? a : b; }
inline bool ite(bool c, bool a, bool b) { return c ? a : b; }

inline bool implies(bool a, bool b) { return !a || b; }

// Shifts and masks by a constant amount.
template <class W>
W shl(const W& a, unsigned n) {
  return shl(a, k(a, n));
}
template <class W>
W lshr(const W& a, unsigned n) {
  return lshr(a, k(a, n));
}
template <class W>
W low_mask(const W& like, unsigned bits) {
  return k(like, bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1);
}

template <class W>
W umin(const W& a, const W& b) {
  return ite(ult(a, b), a, b);
}
template <class W>
W umax(const W& a, const W& b) {
  return ite(ult(a, b), b, a);
}

// Every bit at or below the most significant set bit: low_mask(fls64_idx(x) + 1), 0 for 0.
template <class W>
W smear(W x) {
  for (unsigned s : {1u, 2u, 4u, 8u, 16u, 32u}) x = x | lshr(x, s);
  return x;
}

// The lowest set bit alone (0 for 0).
template <class W>
W low_bit(const W& x) {
  return x & (k(x, 0) - x);
}

// Number of set bits, with shifts and adds only (no multiplication for the solver to blast).
template <class W>
W popcount(W x) {
  x = x - (lshr(x, 1u) & k(x, 0x5555555555555555));
  x = (x & k(x, 0x3333333333333333)) + (lshr(x, 2u) & k(x, 0x3333333333333333));
  x = (x + lshr(x, 4u)) & k(x, 0x0f0f0f0f0f0f0f0f);
  x = x + lshr(x, 8u);
  x = x + lshr(x, 16u);
  x = x + lshr(x, 32u);
  return x & k(x, 0x7f);
}

// log2 of a power of two; for x = 0 it gives 64.
template <class W>
W log2_pow2(const W& x) {
  return popcount(x - k(x, 1));
}

}  // namespace iommu::proofs::word
