#include "hw/format.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/bits.h"
#include "hw/format_family.h"

namespace iommu::hw {
namespace {

struct FormatEntry {
  std::string_view name;
  FormatId id;
  Family family;
  unsigned ias;  // defaults, as the Linux drivers usually configure them
  unsigned oas;
};

constexpr std::array<FormatEntry, 18> kFormats{{
    {"arm-64-lpae-s1-4k", FormatId::kArm64LpaeS1_4k, Family::kLpae, 48, 48},
    {"arm-64-lpae-s1-16k", FormatId::kArm64LpaeS1_16k, Family::kLpae, 48, 48},
    {"arm-64-lpae-s1-64k", FormatId::kArm64LpaeS1_64k, Family::kLpae, 48, 48},
    {"arm-64-lpae-s2-4k", FormatId::kArm64LpaeS2_4k, Family::kLpae, 48, 48},
    {"arm-64-lpae-s2-16k", FormatId::kArm64LpaeS2_16k, Family::kLpae, 48, 48},
    {"arm-64-lpae-s2-64k", FormatId::kArm64LpaeS2_64k, Family::kLpae, 48, 48},
    {"arm-32-lpae-s1", FormatId::kArm32LpaeS1, Family::kLpae, 32, 40},
    {"arm-32-lpae-s2", FormatId::kArm32LpaeS2, Family::kLpae, 40, 40},
    {"arm-mali-lpae", FormatId::kArmMaliLpae, Family::kLpae, 48, 40},
    {"arm-v7s", FormatId::kArmV7s, Family::kV7s, 32, 32},
    {"apple-dart", FormatId::kAppleDart, Family::kDart, 32, 36},
    {"apple-dart2", FormatId::kAppleDart2, Family::kDart, 32, 42},
    {"amd-v1", FormatId::kAmdV1, Family::kAmdV1, 48, 52},
    {"vtd-ss", FormatId::kVtdSs, Family::kVtdSs, 48, 52},
    {"x86-64", FormatId::kX86_64, Family::kX86_64, 48, 52},
    {"riscv-sv39", FormatId::kRiscvSv39, Family::kRiscv, 39, 56},
    {"riscv-sv48", FormatId::kRiscvSv48, Family::kRiscv, 48, 56},
    {"riscv-sv57", FormatId::kRiscvSv57, Family::kRiscv, 57, 56},
}};

constexpr std::array<std::string_view, kFormats.size()> kNames = [] {
  std::array<std::string_view, kFormats.size()> names{};
  for (size_t i = 0; i < kFormats.size(); i++) names[i] = kFormats[i].name;
  return names;
}();

const FormatEntry& find_entry(std::string_view name) {
  for (const auto& e : kFormats)
    if (e.name == name) return e;
  throw std::invalid_argument(
      fmt::format("unknown format '{}'; valid formats: {}", name, fmt::join(kNames, ", ")));
}

// Only stage-2 LPAE offers a start level of its own: the others walk from the one their ias
// gives.
Geometry fixed_start(const Geometry& g, std::optional<unsigned> start_level) {
  if (start_level && *start_level != g.start_level)
    throw std::invalid_argument(fmt::format(
        "start level {} not possible: this format starts at level {}", *start_level,
        g.start_level));
  return g;
}

Geometry geometry_for(const FormatEntry& e, const FormatConfig& c) {
  unsigned ias = c.ias ? c.ias : e.ias;
  unsigned oas = c.oas ? c.oas : e.oas;
  if (c.granule && e.family != Family::kDart)
    throw std::invalid_argument(fmt::format(
        "format {} fixes its granule; only apple-dart and apple-dart2 take one", e.name));
  switch (e.family) {
    case Family::kLpae: return lpae_geometry(e.id, ias, oas, c.start_level);
    case Family::kV7s: return fixed_start(v7s_geometry(ias, oas), c.start_level);
    case Family::kDart: return fixed_start(dart_geometry(e.id, ias, oas, c.granule), c.start_level);
    case Family::kAmdV1: return fixed_start(amd_v1_geometry(ias, oas), c.start_level);
    case Family::kVtdSs:
    case Family::kX86_64: return fixed_start(x86_geometry(e.id, ias, oas), c.start_level);
    case Family::kRiscv: return fixed_start(riscv_geometry(e.id, ias, oas), c.start_level);
  }
  throw std::logic_error("unhandled format family");
}

const Codec& codec_for(Family f) {
  switch (f) {
    case Family::kLpae: return kLpaeCodec;
    case Family::kV7s: return kV7sCodec;
    case Family::kDart: return kDartCodec;
    case Family::kAmdV1: return kAmdV1Codec;
    case Family::kVtdSs: return kVtdSsCodec;
    case Family::kX86_64: return kX86_64Codec;
    case Family::kRiscv: return kRiscvCodec;
  }
  throw std::logic_error("unhandled format family");
}

// The level with the largest single-entry leaf that fits: replicated leaves (v7s) span several
// entries of it.
unsigned level_for_leaf(const Geometry& geo, uint64_t pgsize) {
  unsigned best = geo.last_level + 1;
  for (unsigned l = geo.start_level; l <= geo.last_level; l++) {
    uint64_t leaf = geo.at(l).leaf_size;
    if (leaf && leaf <= pgsize && (best > geo.last_level || leaf > geo.at(best).leaf_size))
      best = l;
  }
  if (best <= geo.last_level) return best;
  throw std::logic_error("page size bitmap disagrees with the level geometry");
}

}  // namespace

uint64_t Geometry::index(uint64_t iova, unsigned level) const {
  const LevelGeometry& lg = at(level);
  return (iova >> lg.shift) & low_mask(lg.index_bits);
}

unsigned Geometry::ttbr_index(uint64_t iova) const {
  return n_ttbrs == 1 ? 0 : static_cast<unsigned>((iova >> ttbr_shift) & (n_ttbrs - 1));
}

uint64_t Geometry::prefix(uint64_t iova, unsigned level) const {
  return iova & ~low_mask(at(level).shift) & low_mask(ias);
}

uint64_t Geometry::table_span(unsigned level) const {
  return bit(at(level).shift + at(level).index_bits);
}

bool Format::is_stage2() const {
  return id_ == FormatId::kArm64LpaeS2_4k || id_ == FormatId::kArm64LpaeS2_16k ||
         id_ == FormatId::kArm64LpaeS2_64k || id_ == FormatId::kArm32LpaeS2;
}

Format::Format(FormatId id, std::string_view name, Family family, Geometry geo,
               const Codec& codec)
    : id_(id), name_(name), family_(family), geo_(geo), codec_(&codec) {
  for (uint64_t sizes = geo_.pgsize_bitmap; sizes; sizes &= sizes - 1) {
    const uint64_t pgsize = sizes & -sizes;
    leaf_levels_[ffs64_idx(pgsize)] = static_cast<uint8_t>(level_for_leaf(geo_, pgsize));
  }
}

unsigned Format::leaf_level(uint64_t pgsize) const {
  if (!is_pow2(pgsize) || !(geo_.pgsize_bitmap & pgsize))
    throw std::invalid_argument(fmt::format("{} has no {:#x}-byte leaf (page sizes {:#x})",
                                            name_, pgsize, geo_.pgsize_bitmap));
  return leaf_levels_[ffs64_idx(pgsize)];
}

uint64_t Format::make_table(uint64_t paddr) const {
  if (family_ == Family::kAmdV1)
    throw std::logic_error("amd-v1 table descriptors name the next level: give the level");
  return codec_->make_table(*this, paddr, geo_.start_level);
}

unsigned Format::replicas(uint64_t pgsize) const {
  return static_cast<unsigned>(pgsize / geo_.at(leaf_level(pgsize)).leaf_size);
}

uint64_t Format::make_leaf(uint64_t paddr, uint64_t pgsize, int prot) const {
  return codec_->make_leaf(*this, paddr, leaf_level(pgsize), pgsize, prot);
}

Format make_format(const FormatConfig& config) {
  const FormatEntry& e = find_entry(config.name);
  return Format(e.id, e.name, e.family, geometry_for(e, config), codec_for(e.family));
}

std::span<const std::string_view> format_names() { return kNames; }

}  // namespace iommu::hw
