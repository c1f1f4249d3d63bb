// The two number types the modelled arithmetic is written over: uint64_t, which the
// correspondence tests run against the real C++ functions, and a 64-bit Z3 bit-vector
// (z3::expr), which the proofs decide. Each model is one template over W, so what is proved is
// the very code the tests compare with ref/ and hw/.
#pragma once

#include <z3++.h>

#include <cstdint>
#include <utility>

namespace iommu::proofs {

// The truth type that goes with W: bool for uint64_t, a Z3 Boolean for z3::expr.
template <class W>
using BoolOf = decltype(std::declval<W>() == std::declval<W>());

// A constant of the same kind as `like`.
inline uint64_t lit(const uint64_t&, uint64_t v) { return v; }
inline z3::expr lit(const z3::expr& like, uint64_t v) {
  return like.ctx().bv_val(static_cast<uint64_t>(v), 64);
}
inline bool truth(const uint64_t&, bool b) { return b; }
inline z3::expr truth(const z3::expr& like, bool b) { return like.ctx().bool_val(b); }

// Unsigned comparisons (z3++'s < and <= on bit-vectors are signed). For z3::expr, ult, ule,
// sle, shl and ite are z3's own, found by argument-dependent lookup.
inline bool ult(uint64_t a, uint64_t b) { return a < b; }
inline bool ule(uint64_t a, uint64_t b) { return a <= b; }

// Signed comparison, for counts Linux keeps in an int.
inline bool sle(uint64_t a, uint64_t b) {
  return static_cast<int64_t>(a) <= static_cast<int64_t>(b);
}

// Shifts with bit-vector semantics: a shift by 64 or more gives 0.
inline uint64_t shr(uint64_t a, uint64_t n) { return n >= 64 ? 0 : a >> n; }
inline uint64_t shl(uint64_t a, uint64_t n) { return n >= 64 ? 0 : a << n; }
inline z3::expr shr(const z3::expr& a, const z3::expr& n) { return z3::lshr(a, n); }
inline z3::expr shr(const z3::expr& a, uint64_t n) { return z3::lshr(a, lit(a, n)); }

inline uint64_t ite(bool c, uint64_t a, uint64_t b) { return c ? a : b; }

// Mask helpers in the shapes the models use instead of bit indices (Z3 decides masks fast and
// bit-index arithmetic slowly).

// genmask(fls64_idx(x), 0): x and every bit below its highest; 0 for x == 0.
template <class W>
W fill_down(W x) {
  for (unsigned s = 1; s < 64; s *= 2) x = x | shr(x, s);
  return x;
}

// The lowest set bit of x alone (x & -x); 0 for x == 0.
template <class W>
W lowest_bit(const W& x) {
  return x & (lit(x, 0) - x);
}

// genmask(ffs64_idx(x), 0) for x != 0: the lowest set bit and every bit below it.
template <class W>
W through_lowest(const W& x) {
  return x ^ (x - lit(x, 1));
}

// log2 of a power of two, bit by bit from the masks of set index bits.
template <class W>
W log2_pow2(const W& p) {
  constexpr uint64_t kIndexBit[6] = {0xaaaaaaaaaaaaaaaa, 0xcccccccccccccccc, 0xf0f0f0f0f0f0f0f0,
                                     0xff00ff00ff00ff00, 0xffff0000ffff0000, 0xffffffff00000000};
  W n = lit(p, 0);
  for (unsigned k = 0; k < 6; k++)
    n = n | ite((p & lit(p, kIndexBit[k])) != lit(p, 0), lit(p, uint64_t{1} << k), lit(p, 0));
  return n;
}

template <class W>
BoolOf<W> aligned(const W& x, const W& a) {
  return (x & (a - lit(x, 1))) == lit(x, 0);
}

}  // namespace iommu::proofs
