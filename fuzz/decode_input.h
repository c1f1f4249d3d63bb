// What one fuzz_decode input means: a format, its limits, where the image sits, its roots,
// iovas to walk, and the memory image. The fuzz target reads it with FuzzedDataProvider; the
// seed generator writes it the way FuzzedDataProvider reads it; decode_input explains a
// crashing input as an `iommucheck decode` command.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iommu::fuzz {

struct DecodeInput {
  std::string format;     // one of hw::format_names()
  unsigned ias = 0;       // 0: the format's default
  unsigned oas = 0;
  uint64_t granule = 0;   // 0, 4K or 16K (apple-dart only)
  uint64_t base = 0;      // physical address of image[0]
  std::vector<uint64_t> roots;
  std::vector<uint64_t> iovas;  // walked and compared with the dump, at most kMaxDecodeIovas
  std::vector<uint8_t> image;
};

inline constexpr unsigned kMaxDecodeIovas = 8;

// Never fails: every byte string is some input (FuzzedDataProvider semantics).
DecodeInput read_decode_input(const uint8_t* data, size_t size);

// An input that read_decode_input turns back into `in` (roots and bases as raw values).
std::vector<uint8_t> write_decode_input(const DecodeInput& in);

}  // namespace iommu::fuzz
