// Enumerates everything a set of page tables maps, and everything malformed in them, the way the
// walker would read it: the engine of `iommucheck decode`.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hw/format.h"
#include "hw/table_memory.h"
#include "hw/translation.h"

namespace iommu::hw {

// A run of leaves contiguous in iova and paddr with the same prot, leaf size and level.
struct Mapping {
  uint64_t iova = 0;
  uint64_t paddr = 0;
  uint64_t size = 0;
  int prot = 0;  // Linux IOMMU_* flags the descriptors express
  uint64_t leaf_size = 0;
  unsigned level = 0;
  bool operator==(const Mapping&) const = default;
};

// A descriptor (or a table) a walk through it would fault on for a reason other than emptiness.
struct Malformed {
  uint64_t desc_paddr = 0;
  unsigned level = 0;
  uint64_t iova = 0;  // first iova the descriptor translates
  FaultReason reason = FaultReason::kReserved;
  std::string_view why;
};

struct TableDump {
  std::vector<Mapping> mappings;  // in iova order
  std::vector<Malformed> malformed;
};

// `ttbrs` holds one root per TTBR (DART) or just the PGD. Throws ImageError when a table is
// reached through a second descriptor (shared or looping tables).
TableDump dump_tables(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs);

// A problem with a memory image or the roots given for it; the message says what to fix.
struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a raw memory image; throws ImageError naming the file when it cannot.
std::vector<uint8_t> read_image_file(const std::string& path);

// Loads `image` (first byte at physical address `base`) as allocated memory and dumps the tables
// at `ttbrs`; throws ImageError when a root table is misaligned or not wholly inside the image.
TableDump dump_image(const Format& fmt, std::span<const uint8_t> image, uint64_t base,
                     std::span<const uint64_t> ttbrs);

// One line each: "IOVA_START-IOVA_END -> PADDR PROT LEAF_SIZE LLEVEL" and
// "malformed: desc PADDR level N iova IOVA: REASON (WHY)".
std::string format_mapping(const Mapping& m);
std::string format_malformed(const Malformed& m);

}  // namespace iommu::hw
