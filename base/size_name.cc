#include "base/size_name.h"

#include <fmt/format.h>

namespace iommu {

std::string size_name(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T", "P", "E"};
  unsigned unit = 0;
  while (unit < 6 && bytes != 0 && (bytes & 1023) == 0) {
    bytes >>= 10;
    ++unit;
  }
  if (unit == 0) return fmt::format("{:#x}", bytes);
  return fmt::format("{}{}", bytes, kUnits[unit]);
}

}  // namespace iommu
