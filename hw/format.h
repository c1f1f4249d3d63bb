// Descriptor formats as data: the geometry of each io-pgtable format computed from {format, ias,
// oas}, plus the small per-family functions that decode and encode one descriptor. The walker
// and impl/ share these, so a descriptor is written and read by the same rules.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hw/translation.h"

namespace iommu::hw {

// The deepest walk any format has (AMD v1: six levels).
inline constexpr unsigned kMaxLevels = 6;

enum class Family { kLpae, kV7s, kDart, kAmdV1, kVtdSs, kX86_64, kRiscv };

enum class FormatId {
  kArm64LpaeS1_4k,
  kArm64LpaeS1_16k,
  kArm64LpaeS1_64k,
  kArm64LpaeS2_4k,
  kArm64LpaeS2_16k,
  kArm64LpaeS2_64k,
  kArm32LpaeS1,
  kArm32LpaeS2,
  kArmMaliLpae,
  kArmV7s,
  kAppleDart,
  kAppleDart2,
  kAmdV1,
  kVtdSs,
  kX86_64,
  kRiscvSv39,
  kRiscvSv48,
  kRiscvSv57,
};

// What a format is asked to be; 0 picks the format's default (Linux's usual configuration).
struct FormatConfig {
  std::string name;
  unsigned ias = 0;
  unsigned oas = 0;
  uint64_t granule = 0;  // only apple-dart/apple-dart2 offer a choice (4K or 16K)
  // The level the walk starts at; empty: the format's default, Linux 6.12's choice (amd-v1,
  // vtd-ss and x86-64 derive it from the ias). Only the stage-2 LPAE formats have a choice:
  // the level the ias gives, or the next one with the start level's tables concatenated (at
  // most 16), which is how pgd_concat is derived.
  std::optional<unsigned> start_level = std::nullopt;
};

// One level of the walk, in the format's own level numbering.
struct LevelGeometry {
  unsigned shift = 0;       // iova bit where this level's index starts
  unsigned index_bits = 0;  // width of the index (the concatenated width at a stage-2 PGD)
  uint64_t table_bytes = 0;
  uint64_t leaf_size = 0;  // size of a leaf at this level, 0 when none is allowed
  bool has_tables = false;  // may hold table descriptors
};

struct Geometry {
  unsigned desc_bytes = 8;
  uint64_t granule = 0;
  unsigned ias = 0;
  unsigned oas = 0;
  unsigned start_level = 0;
  unsigned last_level = 0;
  std::array<LevelGeometry, kMaxLevels> levels{};  // indexed by level number
  uint64_t pgd_bytes = 0;
  unsigned pgd_concat = 1;   // stage-2 tables concatenated at the start level
  uint64_t pgsize_bitmap = 0;
  unsigned n_ttbrs = 1;      // DART: tables selected by iova bits above the walk
  unsigned ttbr_shift = 0;

  const LevelGeometry& at(unsigned level) const { return levels[level]; }
  uint64_t index(uint64_t iova, unsigned level) const;
  unsigned ttbr_index(uint64_t iova) const;
  // The iova bits a table descriptor at `level` is selected by (what a walk cache keys on).
  uint64_t prefix(uint64_t iova, unsigned level) const;
  // Bytes of iova a table at `level` (not the root) translates.
  uint64_t table_span(unsigned level) const;
};

enum class DescKind { kEmpty, kTable, kLeaf, kReserved };

// One descriptor as the hardware reads it.
struct Decoded {
  DescKind kind = DescKind::kEmpty;
  uint64_t paddr = 0;  // next-level table or leaf output address
  uint64_t size = 0;   // leaf size (all replicas together)
  Perms perms;
  int prot = 0;           // the Linux IOMMU_* flags the leaf expresses (for display and checks)
  bool af = true;         // access flag; a leaf without it faults on first use
  unsigned replicas = 1;  // v7s large pages, supersections, RISC-V NAPOT: 16; AMD NextLevel-7: 2..256
  std::string_view why;   // for kReserved: what is wrong with the encoding
  // kTable: levels the pointer skips (AMD NextLevel below level - 1): the table it points to is
  // at level + 1 + skip, and the iova bits of the skipped levels must be zero.
  unsigned skip = 0;
  Perms limit = kNoLimit;  // kTable: what the leaves below may grant at most
};

class Format;

// The per-family descriptor functions; one instance per family, shared by all its formats.
struct Codec {
  Decoded (*decode)(const Format& fmt, uint64_t desc, unsigned level);
  // `level` is the level of the descriptor written (AMD's PDEs name the next level).
  uint64_t (*make_table)(const Format& fmt, uint64_t paddr, unsigned level);
  uint64_t (*make_leaf)(const Format& fmt, uint64_t paddr, unsigned level, uint64_t pgsize,
                        int prot);
  // Bits hardware sets in one entry of a replicated leaf (AMD accessed/dirty): the replicas
  // still agree when only these differ.
  uint64_t hw_updated = 0;
  // The specification's name of a level ("PML4", "level 3"); null where our numbers are the
  // spec's.
  std::string_view (*level_name)(unsigned level) = nullptr;
};

class Format {
 public:
  Format(FormatId id, std::string_view name, Family family, Geometry geo, const Codec& codec);

  FormatId id() const { return id_; }
  std::string_view name() const { return name_; }
  Family family() const { return family_; }
  const Geometry& geo() const { return geo_; }

  bool is_stage2() const;
  bool is_mali() const { return id_ == FormatId::kArmMaliLpae; }

  Decoded decode(uint64_t desc, unsigned level) const { return codec_->decode(*this, desc, level); }
  // A table descriptor at `level` pointing to a table at the next level, as Linux 6.12 writes it.
  uint64_t make_table(uint64_t paddr, unsigned level) const {
    return codec_->make_table(*this, paddr, level);
  }
  // The same for the formats whose table descriptors do not depend on the level (all but
  // amd-v1, for which this throws std::logic_error).
  uint64_t make_table(uint64_t paddr) const;
  // A leaf of `pgsize` (one of pgsize_bitmap) as Linux 6.12 writes it for `prot`; for v7s 64K
  // and 16M leaves this is the value of each of the 16 replicas.
  uint64_t make_leaf(uint64_t paddr, uint64_t pgsize, int prot) const;
  // The level at which a leaf of `pgsize` lives; throws when the format has no such leaf.
  unsigned leaf_level(uint64_t pgsize) const;
  // Entries written for one leaf of `pgsize`.
  unsigned replicas(uint64_t pgsize) const;
  uint64_t hw_updated_bits() const { return codec_->hw_updated; }
  // The specification's name of `level`, empty for the formats numbered as their spec is.
  std::string_view level_name(unsigned level) const {
    return codec_->level_name ? codec_->level_name(level) : std::string_view{};
  }

 private:
  FormatId id_;
  std::string_view name_;
  Family family_;
  Geometry geo_;
  const Codec* codec_;
  // leaf_level() by log2(pgsize), for each size in the pgsize_bitmap: the engine asks for every
  // run and split.
  std::array<uint8_t, 64> leaf_levels_{};
};

// Builds a format from its Linux name and limits; throws std::invalid_argument naming the
// valid formats or the valid ias/oas.
Format make_format(const FormatConfig& config);
std::span<const std::string_view> format_names();

}  // namespace iommu::hw
