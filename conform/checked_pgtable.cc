#include "conform/checked_pgtable.h"

#include <fmt/core.h>

#include <algorithm>

#include "base/prot.h"

namespace iommu::conform {
namespace {

// Whether [first, last] lies inside the union of the inclusive ranges (sorted, merged here).
bool covered(std::vector<std::pair<uint64_t, uint64_t>> ranges, uint64_t first, uint64_t last) {
  std::sort(ranges.begin(), ranges.end());
  uint64_t need = first;
  for (const auto& [lo, hi] : ranges) {
    if (lo > need) break;
    if (hi >= last) return true;
    need = std::max(need, hi + 1);
  }
  return false;
}

}  // namespace

CheckedPgtable::CheckedPgtable(impl::FlushOps& flush, const hw::TableMemory& memory,
                               const ref::DomainConfig& cfg)
    : flush_(flush), memory_(memory), shadow_(cfg) {}

void CheckedPgtable::violation(std::string what) { violations_.push_back(std::move(what)); }

int CheckedPgtable::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                              int prot, uint64_t* mapped) {
  ++calls_;
  const uint64_t before = *mapped;
  const int ret = driver_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  const ref::MapPagesCall call{iova, paddr, pgsize, pgcount, prot};
  const ref::MapPagesResult outcome{ret, *mapped - before};
  if (auto why = shadow_.check_map_pages(call, outcome)) {
    violation(fmt::format("map_pages(iova={:#x}, paddr={:#x}, pgsize={:#x}, pgcount={}, prot={}) {}",
                          iova, paddr, pgsize, pgcount, prot_to_string(prot), *why));
    return ret;
  }
  shadow_.apply_map_pages(call, outcome);
  choices_.push_back(ref::MapPagesChoice{call, outcome});
  return ret;
}

uint64_t CheckedPgtable::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                                     impl::IotlbGather* gather) {
  ++calls_;
  added_.clear();
  const uint64_t failed_before = memory_.allocations_failed();
  const uint64_t n = driver_->unmap_pages(iova, pgsize, pgcount, gather);
  const ref::UnmapPagesCall call{iova, pgsize, pgcount};
  const bool alloc_failed = memory_.allocations_failed() != failed_before;
  if (auto why = shadow_.check_unmap_pages(call, n, alloc_failed)) {
    violation(fmt::format("unmap_pages(iova={:#x}, pgsize={:#x}, pgcount={}) {}", iova, pgsize,
                          pgcount, *why));
    return n;
  }
  std::vector<ref::LeafRun> removed;
  shadow_.apply_unmap_pages(call, n, &removed);
  choices_.push_back(ref::UnmapPagesChoice{call, n, alloc_failed});
  if (!gather->queued && gathers_) check_gathered(call, removed);
  return n;
}

void CheckedPgtable::check_gathered(const ref::UnmapPagesCall& call,
                                    const std::vector<ref::LeafRun>& removed) {
  for (const ref::LeafRun& run : removed) {
    if (covered(added_, run.iova, run.last())) continue;
    violation(fmt::format(
        "unmap_pages(iova={:#x}, pgsize={:#x}, pgcount={}) removed [{:#x}, {:#x}] but did not "
        "tlb_add_page all of it (a device may keep using it after iotlb_sync)",
        call.iova, call.pgsize, call.pgcount, run.iova, run.last()));
    return;
  }
}

// A walk flush removes leaves too: Linux LPAE frees a table under a removed range with
// tlb_flush_walk alone, without tlb_add_page for the leaves it held.
void CheckedPgtable::tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) {
  record(iova, size);
  flush_.tlb_flush_walk(iova, size, granule);
}

void CheckedPgtable::record(uint64_t iova, uint64_t size) {
  if (size == 0) return;
  const uint64_t last = iova + (size - 1);
  // Runs add their leaves in order: extend the previous range instead of keeping one per page.
  if (!added_.empty() && added_.back().second != ~uint64_t{0} && added_.back().second + 1 == iova) {
    added_.back().second = last;
    return;
  }
  added_.emplace_back(iova, last);
}

void CheckedPgtable::tlb_add_page(impl::IotlbGather& gather, uint64_t iova, uint64_t granule) {
  record(iova, granule);
  flush_.tlb_add_page(gather, iova, granule);
}

}  // namespace iommu::conform
