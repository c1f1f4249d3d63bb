// The driver level (io_pgtable_ops): map_pages, unmap_pages and iova_to_phys as the reference
// performs them, and which outcomes a real driver may return instead (SEMANTICS.md, "Driver
// contract"). A driver outcome is a return value plus a count; the mappings it leaves follow
// from them, so the checker applies the driver's outcome here and then compares translations.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ref/config.h"
#include "ref/leaf_map.h"

namespace iommu::ref {

struct MapPagesCall {
  uint64_t iova = 0;
  uint64_t paddr = 0;
  uint64_t pgsize = 0;
  uint64_t pgcount = 0;
  int prot = 0;
  bool operator==(const MapPagesCall&) const = default;
};

struct MapPagesResult {
  int ret = 0;          // 0 or a negative errno
  uint64_t mapped = 0;  // bytes added to *mapped, even on error
  bool operator==(const MapPagesResult&) const = default;
};

struct UnmapPagesCall {
  uint64_t iova = 0;
  uint64_t pgsize = 0;
  uint64_t pgcount = 0;
  bool operator==(const UnmapPagesCall&) const = default;
};

// A driver's answer to one call, as a driver under test gave it. Where the contract allows
// several answers, the reference can follow the one a driver chose (RefDomain::follow).
struct MapPagesChoice {
  MapPagesCall call;
  MapPagesResult outcome;
};
struct UnmapPagesChoice {
  UnmapPagesCall call;
  uint64_t unmapped = 0;
  bool alloc_failed = false;  // a table allocation failed during the call
};
using DriverChoice = std::variant<MapPagesChoice, UnmapPagesChoice>;

// nullopt: allowed. Otherwise why not, in words a driver author can act on.
using Verdict = std::optional<std::string>;

// What an unmap_pages call removes: `bytes` as returned, and the iova ranges it clears.
struct UnmapPlan {
  uint64_t bytes = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // inclusive [first, last], iova order
};

class RefPgtable {
 public:
  explicit RefPgtable(const DomainConfig& cfg);

  const DomainConfig& config() const { return cfg_; }
  const LeafMap& leaves() const { return leaves_; }

  // The reference behaviour: every page in order until the first error.
  MapPagesResult map_pages(const MapPagesCall& call);
  // Removes leaves from iova on, stops at the first hole; partial leaves per the policy.
  // `removed` (optional) receives what was unmapped, for the device view.
  uint64_t unmap_pages(const UnmapPagesCall& call, std::vector<LeafRun>* removed = nullptr);
  std::optional<uint64_t> iova_to_phys(uint64_t iova) const;

  // What the reference would do, without doing it.
  MapPagesResult expected_map_pages(const MapPagesCall& call) const;
  uint64_t expected_unmap_pages(const UnmapPagesCall& call) const;

  // Whether a driver may answer `call` with `outcome` in the current state.
  Verdict check_map_pages(const MapPagesCall& call, const MapPagesResult& outcome) const;
  // A split needs a new table: when `alloc_failed` (a table allocation failed during the
  // call), a SPLIT driver may also stop at the first leaf it had to split, as Linux does: one
  // the request covers only partly, or (as Linux LPAE splits them) one larger than pgsize.
  Verdict check_unmap_pages(const UnmapPagesCall& call, uint64_t unmapped,
                            bool alloc_failed = false) const;

  // Moves the reference to the state an allowed driver outcome implies.
  void apply_map_pages(const MapPagesCall& call, const MapPagesResult& outcome);
  void apply_unmap_pages(const UnmapPagesCall& call, uint64_t unmapped,
                         std::vector<LeafRun>* removed = nullptr);

 private:
  int map_args_error(const MapPagesCall& call) const;
  bool unmap_args_valid(const UnmapPagesCall& call) const;
  bool slots_all_live(const UnmapPagesCall& call, uint64_t bytes) const;
  bool cuts_leaf(uint64_t iova) const;
  // Where a plan stops instead of splitting: nowhere, at the first leaf the request covers
  // only partly, or also at the first leaf larger than the call's pgsize (Linux LPAE splits
  // every such leaf, even one the request covers whole).
  enum class SplitStop { kNone, kAtCut, kAtLarger };
  UnmapPlan plan_unmap(const UnmapPagesCall& call, uint64_t limit,
                       SplitStop stop = SplitStop::kNone) const;
  void remove(uint64_t first, uint64_t last, std::vector<LeafRun>* removed);

  DomainConfig cfg_;
  LeafMap leaves_;
};

}  // namespace iommu::ref
