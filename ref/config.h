// The configuration a domain declares: what the reference model holds a driver to.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace iommu::ref {

// What a driver does when an unmap covers only part of a leaf (SEMANTICS.md).
enum class PartialUnmap {
  kSplit,   // Linux <= 6.12 LPAE and v7s: split the leaf, unmap exactly the request
  kRefuse,  // Linux LPAE from 6.13: unmap nothing and return 0
  kWhole,   // AMD, VT-d, generic page table: unmap the whole leaf and return its size
};

// When unmapped translations stop being visible to devices.
enum class Invalidation {
  kStrict,  // unmap() ends with iotlb_sync: gone when it returns
  kLazy,    // flush queue: stale until the next flush_iotlb_all
};

struct DomainConfig {
  uint64_t pgsize_bitmap = 0;
  unsigned ias = 0;
  unsigned oas = 0;
  PartialUnmap partial_unmap = PartialUnmap::kSplit;
  bool np_caching = false;  // hardware may cache non-present entries (VT-d CM, AMD NpCache)
  Invalidation invalidation = Invalidation::kStrict;

  uint64_t min_pgsize() const { return pgsize_bitmap & (~pgsize_bitmap + 1); }
};

// A configuration the model cannot hold a driver to; the message names the field.
struct ConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Throws ConfigError unless: 12 <= ias <= 64; 12 <= oas <= 64; the bitmap is non-empty with
// every size below 2^63 and no larger than either address space.
void validate(const DomainConfig& cfg);

// One line, e.g. "pgsizes=4K|2M|1G ias=48 oas=48 partial=split np_caching=off strict".
std::string describe(const DomainConfig& cfg);

std::string_view partial_unmap_name(PartialUnmap p);

// "4K|2M|1G".
std::string pgsize_bitmap_name(uint64_t bitmap);

}  // namespace iommu::ref
