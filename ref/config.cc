#include "ref/config.h"

#include <fmt/core.h>

#include <algorithm>

#include "base/bits.h"
#include "base/size_name.h"

namespace iommu::ref {

void validate(const DomainConfig& cfg) {
  if (cfg.ias < 12 || cfg.ias > 64)
    throw ConfigError(fmt::format("ias={} is out of range: it must be 12..64", cfg.ias));
  if (cfg.oas < 12 || cfg.oas > 64)
    throw ConfigError(fmt::format("oas={} is out of range: it must be 12..64", cfg.oas));
  if (cfg.pgsize_bitmap == 0)
    throw ConfigError("pgsize_bitmap is empty: a domain needs at least one page size");
  if (cfg.pgsize_bitmap & ~genmask(62, 0))
    throw ConfigError(fmt::format("pgsize_bitmap={:#x} has a page size of 2^63 or more",
                                  cfg.pgsize_bitmap));
  if (fls64_idx(cfg.pgsize_bitmap) > std::min(cfg.ias, cfg.oas))
    throw ConfigError(fmt::format("pgsize_bitmap={:#x} has a page size larger than the ias={} "
                                  "or oas={} address space",
                                  cfg.pgsize_bitmap, cfg.ias, cfg.oas));
}

std::string_view partial_unmap_name(PartialUnmap p) {
  switch (p) {
    case PartialUnmap::kSplit: return "split";
    case PartialUnmap::kRefuse: return "refuse";
    case PartialUnmap::kWhole: return "whole";
  }
  return "?";
}

std::string pgsize_bitmap_name(uint64_t bitmap) {
  std::string out;
  for (uint64_t rest = bitmap; rest != 0; rest &= rest - 1) {
    if (!out.empty()) out += '|';
    out += size_name(rest & (~rest + 1));
  }
  return out;
}

std::string describe(const DomainConfig& cfg) {
  return fmt::format("pgsizes={} ias={} oas={} partial={} np_caching={} {}",
                     pgsize_bitmap_name(cfg.pgsize_bitmap), cfg.ias, cfg.oas,
                     partial_unmap_name(cfg.partial_unmap), cfg.np_caching ? "on" : "off",
                     cfg.invalidation == Invalidation::kStrict ? "strict" : "lazy");
}

}  // namespace iommu::ref
