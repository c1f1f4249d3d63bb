// Inputs for the correspondence tests: every value of a small width (a few pages, with the
// byte offsets that matter), the same near the top of the 64-bit space, and random 64-bit
// values whose set bits are spread over every width.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace iommu::proofs::testing {

// Pages 0..pages-1 with offsets 0, 1, half a page and the last byte, at the bottom and at the
// top of the space.
inline std::vector<uint64_t> small_width_values(uint64_t pages) {
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < pages; ++p) {
    for (uint64_t off : {uint64_t{0}, uint64_t{1}, uint64_t{0x800}, uint64_t{0xfff}}) {
      out.push_back(p * 0x1000 + off);
      out.push_back(~uint64_t{0} - (p * 0x1000 + off));
    }
  }
  return out;
}

// A random 64-bit value of a random width (so small and large magnitudes both appear).
inline uint64_t random_word(std::mt19937_64& rng) {
  const unsigned width = static_cast<unsigned>(rng() % 65);
  return width == 64 ? rng() : rng() & ((uint64_t{1} << width) - 1);
}

// An ordered pair start <= last from two random words.
inline std::pair<uint64_t, uint64_t> random_range(std::mt19937_64& rng) {
  uint64_t a = random_word(rng), b = random_word(rng);
  if (rng() % 4 == 0) b = a + (random_word(rng) >> (rng() % 64));  // often short ranges
  return a <= b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace iommu::proofs::testing
