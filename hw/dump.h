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
  std::string_view level_name = {};  // the spec's level name (Format::level_name), or empty
  bool operator==(const Mapping&) const = default;
};

// A descriptor (or a table) a walk through it would fault on for a reason other than emptiness,
// or a table descriptor that breaks the tree: it points to a table listed already.
struct Malformed {
  uint64_t desc_paddr = 0;
  unsigned level = 0;
  std::string_view level_name = {};  // as in Mapping
  uint64_t iova = 0;  // first iova the descriptor translates
  // fault_reason_name() of the walker's fault, or kSharedTable / kTableLoop.
  std::string reason;
  std::string why;
};

// A table reached through a second descriptor; one of the tables above it on its own walk.
inline constexpr std::string_view kSharedTable = "shared-table";
inline constexpr std::string_view kTableLoop = "table-loop";

struct TableDump {
  std::vector<Mapping> mappings;  // in iova order
  std::vector<Malformed> malformed;
};

// `ttbrs` holds one root per TTBR (DART) or just the PGD. Each table is listed once: a table
// descriptor that leads to a table listed already (shared, or a loop), or to one that is not
// wholly in allocated memory, is reported at the descriptor and not followed.
TableDump dump_tables(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs);

// A problem with a memory image or the roots given for it; the message says what to fix.
struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A raw memory image file, mapped read-only: pages are read on demand, so an image of any size
// costs the host only what a dump touches. Throws ImageError naming the file when it cannot be
// opened, is not a regular file (a directory, /dev/zero), or is empty.
class ImageFile {
 public:
  explicit ImageFile(const std::string& path);
  ~ImageFile();
  ImageFile(const ImageFile&) = delete;
  ImageFile& operator=(const ImageFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Views `image` (first byte at physical address `base`) as allocated memory, without copying,
// and dumps the tables at `ttbrs`; throws ImageError when a root table is misaligned or not
// wholly inside the image. A table pointer leading out of the image is bad table memory.
TableDump dump_image(const Format& fmt, std::span<const uint8_t> image, uint64_t base,
                     std::span<const uint64_t> ttbrs);

// One line each: "IOVA_START-IOVA_END -> PADDR PROT LEAF_SIZE LLEVEL" and
// "malformed: desc PADDR level N iova IOVA: REASON (WHY)", the level followed by its spec name
// in parentheses where the format has one ("L4 (PT)", "level 2 (level 4)").
std::string format_mapping(const Mapping& m);
std::string format_malformed(const Malformed& m);

}  // namespace iommu::hw
