// Bit arithmetic with the kernel's names and exact semantics (include/linux/bitops.h,
// include/linux/bits.h), so that code ported from or compared with Linux reads the same.
#pragma once

#include <bit>
#include <cstdint>

namespace iommu {

// Index of the most significant set bit; x must be non-zero (as for the kernel's __fls).
constexpr unsigned fls64_idx(uint64_t x) { return 63u - static_cast<unsigned>(std::countl_zero(x)); }

// Index of the least significant set bit; x must be non-zero (as for the kernel's __ffs).
constexpr unsigned ffs64_idx(uint64_t x) { return static_cast<unsigned>(std::countr_zero(x)); }

// Bits h..l set, inclusive; h and l in 0..63, h >= l.
constexpr uint64_t genmask(unsigned h, unsigned l) {
  return (~uint64_t{0} >> (63 - h)) & (~uint64_t{0} << l);
}

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

constexpr bool is_aligned(uint64_t x, uint64_t a) { return (x & (a - 1)) == 0; }

constexpr bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Mask of the low `bits` bits; bits may be 64.
constexpr uint64_t low_mask(unsigned bits) { return bits >= 64 ? ~uint64_t{0} : bit(bits) - 1; }

// Whether the byte range [start, start + size) lies inside a `bits`-bit address space.
constexpr bool fits_bits(uint64_t start, uint64_t size, unsigned bits) {
  if (size == 0) return (start & ~low_mask(bits)) == 0;
  uint64_t last = start + (size - 1);
  return last >= start && (last & ~low_mask(bits)) == 0;
}

}  // namespace iommu
