#include "ref/pgtable.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "base/bits.h"
#include "base/prot.h"

namespace iommu::ref {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// How many whole pgsize pages fit from `start` to the top of a `bits`-bit space.
uint64_t pages_below(uint64_t start, uint64_t pgsize, unsigned bits) {
  const uint64_t top = low_mask(bits);
  if (start > top) return 0;
  return (top - start - (pgsize - 1)) / pgsize + 1;
}

// The last byte of `pgcount` pages from iova, clamped to the top of the 64-bit space.
uint64_t request_last(uint64_t iova, uint64_t pgsize, uint64_t pgcount) {
  const uint64_t fit = pages_below(iova, pgsize, 64);
  return iova + (std::min(pgcount, fit) * pgsize - 1);
}

bool is_one_size_of(uint64_t pgsize, uint64_t bitmap) {
  return is_pow2(pgsize) && (pgsize & bitmap) == pgsize;
}

}  // namespace

RefPgtable::RefPgtable(const DomainConfig& cfg) : cfg_(cfg), leaves_(cfg.pgsize_bitmap) {
  validate(cfg_);
}

int RefPgtable::map_args_error(const MapPagesCall& call) const {
  if (!is_one_size_of(call.pgsize, cfg_.pgsize_bitmap) || call.pgcount == 0 ||
      !is_aligned(call.iova | call.paddr, call.pgsize))
    return -EINVAL;
  if (pages_below(call.iova, call.pgsize, cfg_.ias) == 0 ||
      pages_below(call.paddr, call.pgsize, cfg_.oas) == 0)
    return -ERANGE;
  if (!(call.prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;
  return 0;
}

MapPagesResult RefPgtable::expected_map_pages(const MapPagesCall& call) const {
  if (int err = map_args_error(call)) return {err, 0};
  const uint64_t in_range = std::min(pages_below(call.iova, call.pgsize, cfg_.ias),
                                     pages_below(call.paddr, call.pgsize, cfg_.oas));
  const uint64_t want = std::min(call.pgcount, in_range);
  const uint64_t last = call.iova + (want * call.pgsize - 1);

  uint64_t free_pages = want;
  if (leaves_.intersects(call.iova, last)) {
    const LeafRun first = leaves_.runs_in(call.iova, last).front();
    free_pages = (std::max(first.iova, call.iova) - call.iova) / call.pgsize;
  }
  const uint64_t mapped = free_pages * call.pgsize;
  if (free_pages < want) return {-EEXIST, mapped};
  if (want < call.pgcount) return {-ERANGE, mapped};
  return {0, mapped};
}

MapPagesResult RefPgtable::map_pages(const MapPagesCall& call) {
  const MapPagesResult r = expected_map_pages(call);
  apply_map_pages(call, r);
  return r;
}

void RefPgtable::apply_map_pages(const MapPagesCall& call, const MapPagesResult& outcome) {
  if (outcome.mapped == 0) return;
  leaves_.insert({call.iova, call.paddr, call.pgsize, outcome.mapped / call.pgsize, call.prot});
}

Verdict RefPgtable::check_map_pages(const MapPagesCall& call,
                                    const MapPagesResult& outcome) const {
  const MapPagesResult e = expected_map_pages(call);
  if (outcome == e) return std::nullopt;
  if (map_args_error(call) != 0)
    return fmt::format("returned {} with mapped={:#x}; invalid arguments require {} and "
                       "nothing mapped",
                       outcome.ret, outcome.mapped, e.ret);
  if (outcome.mapped % call.pgsize != 0)
    return fmt::format("mapped={:#x} is not a whole number of {:#x} pages", outcome.mapped,
                       call.pgsize);
  if (outcome.mapped > e.mapped)
    return fmt::format("mapped={:#x} but only {:#x} bytes from iova {:#x} can be mapped ({})",
                       outcome.mapped, e.mapped, call.iova,
                       e.ret == -EEXIST ? "the next page is already mapped" : "out of range");
  if (outcome.ret == 0 && outcome.mapped == 0)
    return std::string("returned 0 without mapping anything: the caller would loop forever");
  if (outcome.ret == 0 || outcome.ret == -ENOMEM || outcome.ret == e.ret) return std::nullopt;
  return fmt::format("returned {}; allowed: 0, -ENOMEM or {}", outcome.ret, e.ret);
}

bool RefPgtable::unmap_args_valid(const UnmapPagesCall& call) const {
  return is_one_size_of(call.pgsize, cfg_.pgsize_bitmap) && call.pgcount != 0 &&
         is_aligned(call.iova, call.pgsize) && pages_below(call.iova, call.pgsize, cfg_.ias) != 0;
}

// Walks the leaves from call.iova as the reference driver removes them, until a hole, the end
// of the request, the policy's stop, or `limit` bytes counted.
UnmapPlan RefPgtable::plan_unmap(const UnmapPagesCall& call, uint64_t limit,
                                 SplitStop stop) const {
  UnmapPlan plan;
  if (!unmap_args_valid(call)) return plan;
  const uint64_t end = request_last(call.iova, call.pgsize, call.pgcount);
  auto clear = [&plan](uint64_t first, uint64_t last) {
    if (!plan.ranges.empty() && plan.ranges.back().second + 1 == first)
      plan.ranges.back().second = last;
    else
      plan.ranges.emplace_back(first, last);
  };

  uint64_t cur = call.iova;
  while (plan.bytes < limit) {
    const auto leaf = leaves_.leaf_at(cur);
    if (!leaf) break;
    const uint64_t p = leaf->pgsize;
    const bool split_anyway = stop == SplitStop::kAtLarger && p > call.pgsize;
    if (leaf->iova == cur && end - cur >= p - 1 && !split_anyway) {
      const LeafRun run = leaves_.runs_in(cur, cur).front();
      uint64_t n = std::min((run.last() - cur) / p + 1, (end - cur - (p - 1)) / p + 1);
      if (limit != kNoLimit) n = std::min(n, (limit - plan.bytes + p - 1) / p);
      const uint64_t last = cur + (n * p - 1);
      clear(cur, last);
      plan.bytes += n * p;
      if (last >= end) break;
      cur = last + 1;
      continue;
    }
    // The request covers only part of this leaf.
    if (cfg_.partial_unmap == PartialUnmap::kRefuse || stop != SplitStop::kNone) break;
    if (cfg_.partial_unmap == PartialUnmap::kWhole) {
      clear(leaf->iova, leaf->last());
      plan.bytes += p;
      break;
    }
    const uint64_t last = std::min(leaf->last(), end);
    clear(cur, last);
    plan.bytes += last - cur + 1;
    if (last >= end) break;
    cur = last + 1;
  }
  return plan;
}

uint64_t RefPgtable::expected_unmap_pages(const UnmapPagesCall& call) const {
  return plan_unmap(call, kNoLimit).bytes;
}

uint64_t RefPgtable::unmap_pages(const UnmapPagesCall& call, std::vector<LeafRun>* removed) {
  const uint64_t n = expected_unmap_pages(call);
  apply_unmap_pages(call, n, removed);
  return n;
}

void RefPgtable::apply_unmap_pages(const UnmapPagesCall& call, uint64_t unmapped,
                                   std::vector<LeafRun>* removed) {
  if (unmapped == 0) return;
  if (cfg_.partial_unmap == PartialUnmap::kWhole) {
    for (const auto& [first, last] : plan_unmap(call, unmapped).ranges) remove(first, last, removed);
    return;
  }
  remove(call.iova, call.iova + (unmapped - 1), removed);
}

void RefPgtable::remove(uint64_t first, uint64_t last, std::vector<LeafRun>* removed) {
  if (removed) {
    for (LeafRun run : leaves_.runs_in(first, last)) {
      // Clip to the removed part, keeping whole pages of the run's size where they fit.
      const uint64_t lo = std::max(first, run.iova), hi = std::min(last, run.last());
      removed->push_back({lo, run.paddr + (lo - run.iova), 0, 0, run.prot});
      removed->back().pgsize = cfg_.min_pgsize();
      removed->back().count = (hi - lo) / cfg_.min_pgsize() + 1;
    }
  }
  leaves_.erase(first, last);
}

bool RefPgtable::slots_all_live(const UnmapPagesCall& call, uint64_t bytes) const {
  for (uint64_t off = 0; off < bytes; off += call.pgsize)
    if (!leaves_.intersects(call.iova + off, call.iova + off + (call.pgsize - 1))) return false;
  return true;
}

bool RefPgtable::cuts_leaf(uint64_t iova) const {
  const auto leaf = leaves_.leaf_at(iova);
  return leaf && leaf->iova != iova;
}

Verdict RefPgtable::check_unmap_pages(const UnmapPagesCall& call, uint64_t unmapped,
                                      bool alloc_failed) const {
  const uint64_t want = expected_unmap_pages(call);
  if (unmapped == want) return std::nullopt;
  const bool split_failed = alloc_failed && cfg_.partial_unmap == PartialUnmap::kSplit;
  if (split_failed && (unmapped == plan_unmap(call, kNoLimit, SplitStop::kAtCut).bytes ||
                       unmapped == plan_unmap(call, kNoLimit, SplitStop::kAtLarger).bytes))
    return std::nullopt;
  if (!unmap_args_valid(call))
    return fmt::format("returned {:#x} for invalid arguments; must return 0", unmapped);
  if (unmapped == 0)
    return fmt::format("returned 0 but iova {:#x} is mapped: expected {:#x}", call.iova, want);
  const bool whole = cfg_.partial_unmap == PartialUnmap::kWhole;
  const uint64_t request = request_last(call.iova, call.pgsize, call.pgcount) - call.iova + 1;
  if (unmapped < want) {
    // Stopping early at a table boundary is allowed, as long as it does not cut a leaf.
    const bool boundary = unmapped % call.pgsize == 0 &&
                          (cfg_.partial_unmap == PartialUnmap::kSplit ||
                           !cuts_leaf(call.iova + unmapped));
    if (boundary && (!whole || plan_unmap(call, unmapped).bytes == unmapped)) return std::nullopt;
    return fmt::format("returned {:#x}, expected {:#x} (an early stop must fall on a page "
                       "boundary that cuts no leaf)",
                       unmapped, want);
  }
  // More than the reference: only a table-granular unmap (Linux LPAE frees a whole table
  // slot) over slots that all hold mappings.
  const bool slot_granular = !whole && unmapped % call.pgsize == 0 && unmapped <= request &&
                             slots_all_live(call, unmapped) &&
                             (cfg_.partial_unmap == PartialUnmap::kSplit ||
                              !cuts_leaf(call.iova + unmapped));
  if (slot_granular) return std::nullopt;
  return fmt::format("returned {:#x}, expected {:#x}: the range from {:#x} has a hole or a "
                     "partly covered leaf",
                     unmapped, want, call.iova + want);
}

std::optional<uint64_t> RefPgtable::iova_to_phys(uint64_t iova) const {
  const auto leaf = leaves_.leaf_at(iova);
  if (!leaf) return std::nullopt;
  return leaf->paddr + (iova - leaf->iova);
}

}  // namespace iommu::ref
