// The one table walker, driven by a Format's geometry and codec: what a device sees when it
// translates an iova through the tables in TableMemory.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "hw/format.h"
#include "hw/table_memory.h"
#include "hw/translation.h"

namespace iommu::hw {

// A table descriptor the walk went through: at `level`, the entry at `desc_paddr` points to the
// table at `table_paddr`, at `next_level` (level + 1, or further down where AMD skips levels),
// which translates the iovas starting with the bits `iova_prefix`. `limit` is what the
// descriptors down to this one leave a leaf to grant. This is what a walk cache records and
// later resumes from.
struct TableStep {
  unsigned level = 0;
  uint64_t iova_prefix = 0;
  uint64_t desc_paddr = 0;
  uint64_t table_paddr = 0;
  unsigned next_level = 0;
  Perms limit = kNoLimit;
  bool operator==(const TableStep&) const = default;
};

struct WalkPath {
  std::array<TableStep, kMaxLevels> steps{};
  unsigned count = 0;

  std::span<const TableStep> used() const { return {steps.data(), count}; }
};

struct WalkResult {
  std::variant<Leaf, Fault> outcome;
  WalkPath path;

  const Leaf* leaf() const { return std::get_if<Leaf>(&outcome); }
  const Fault* fault() const { return std::get_if<Fault>(&outcome); }
};

// Where a walk begins: the root (start level, PGD) or a table a walk cache remembered, with
// what the descriptors above it leave a leaf to grant.
struct WalkStart {
  unsigned level = 0;
  uint64_t table_paddr = 0;
  Perms limit = kNoLimit;
};

WalkResult walk(const TableMemory& mem, const Format& fmt, uint64_t root, uint64_t iova);
// DART: `ttbrs` holds one root per TTBR, picked by the iova bits above the walk.
WalkResult walk(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs,
                uint64_t iova);
WalkResult walk_from(const TableMemory& mem, const Format& fmt, WalkStart start, uint64_t iova);

// One entry of a table read and checked the way the walker does: memory state, encoding,
// replica consistency, output address size and access flag. Shared with hw/dump.
struct Entry {
  uint64_t desc_paddr = 0;
  uint64_t desc = 0;
  Decoded decoded;
  std::optional<FaultReason> fault;
  std::string_view why;  // for a fault: what was found
};

Entry read_entry(const TableMemory& mem, const Format& fmt, uint64_t table_paddr, unsigned level,
                 uint64_t index);

// Whether the leaf grants the access; the permission fault when it does not.
std::optional<Fault> check_access(const Leaf& leaf, const Access& access);

}  // namespace iommu::hw
