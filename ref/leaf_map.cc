#include "ref/leaf_map.h"

#include <algorithm>

#include "ref/pgsize.h"

namespace iommu::ref {

std::map<uint64_t, LeafRun>::const_iterator LeafMap::run_containing(uint64_t iova) const {
  auto it = runs_.upper_bound(iova);
  if (it == runs_.begin()) return runs_.end();
  --it;
  return it->second.last() >= iova ? it : runs_.end();
}

std::optional<LeafInfo> LeafMap::leaf_at(uint64_t iova) const {
  auto it = run_containing(iova);
  if (it == runs_.end()) return std::nullopt;
  const LeafRun& r = it->second;
  const uint64_t offset = (iova - r.iova) & ~(r.pgsize - 1);
  return LeafInfo{r.iova + offset, r.paddr + offset, r.pgsize, r.prot};
}

bool LeafMap::intersects(uint64_t first, uint64_t last) const {
  if (run_containing(first) != runs_.end()) return true;
  auto it = runs_.lower_bound(first);
  return it != runs_.end() && it->first <= last;
}

void LeafMap::insert(const LeafRun& run) { runs_.emplace(run.iova, run); }

void LeafMap::erase(uint64_t first, uint64_t last) {
  std::vector<LeafRun> hit = runs_in(first, last);
  for (const LeafRun& run : hit) {
    auto it = run_containing(run.iova);
    const LeafRun whole = it->second;
    runs_.erase(it);
    erase_from_run(whole, first, last);
  }
}

// Puts back what survives of `run` once [first, last] is cut out of it.
void LeafMap::erase_from_run(const LeafRun& run, uint64_t first, uint64_t last) {
  const uint64_t lo = std::max(first, run.iova);
  const uint64_t hi = std::min(last, run.last());
  const uint64_t lo_leaf = run.iova + ((lo - run.iova) & ~(run.pgsize - 1));
  const uint64_t hi_leaf = run.iova + ((hi - run.iova) & ~(run.pgsize - 1));
  const uint64_t hi_leaf_last = hi_leaf + (run.pgsize - 1);
  const uint64_t delta = run.paddr - run.iova;  // wraps harmlessly: paddr = iova + delta

  if (lo_leaf > run.iova)
    insert({run.iova, run.paddr, run.pgsize, (lo_leaf - run.iova) / run.pgsize, run.prot});
  if (lo > lo_leaf) insert_split(lo_leaf, lo_leaf + delta, lo - lo_leaf, run.pgsize, run.prot);
  if (hi < hi_leaf_last)
    insert_split(hi + 1, hi + 1 + delta, hi_leaf_last - hi, run.pgsize, run.prot);
  if (hi_leaf_last < run.last()) {
    const uint64_t next = hi_leaf_last + 1;
    insert({next, next + delta, run.pgsize, (run.last() - hi_leaf_last) / run.pgsize, run.prot});
  }
}

// What a split leaves of a leaf: the largest smaller leaves that align, as Linux rebuilds it.
void LeafMap::insert_split(uint64_t iova, uint64_t paddr, uint64_t size, uint64_t below,
                           int prot) {
  const uint64_t sizes = pgsize_bitmap_ & (below - 1);
  while (size != 0) {
    const auto choice = iommu_pgsize(sizes, iova, paddr, size);
    const uint64_t bytes = choice->pgsize * choice->count;
    insert({iova, paddr, choice->pgsize, choice->count, prot});
    iova += bytes;
    paddr += bytes;
    size -= bytes;
  }
}

std::vector<LeafRun> LeafMap::runs_in(uint64_t first, uint64_t last) const {
  std::vector<LeafRun> out;
  auto it = run_containing(first);
  if (it == runs_.end()) it = runs_.lower_bound(first);
  for (; it != runs_.end() && it->first <= last; ++it) out.push_back(it->second);
  return out;
}

}  // namespace iommu::ref
