#include "ref/page_oracle.h"

#include <cerrno>

#include "base/bits.h"
#include "base/prot.h"

namespace iommu::ref {

PageOracle::PageOracle(const DomainConfig& cfg) : cfg_(cfg), page_(cfg.min_pgsize()) {
  validate(cfg_);
}

bool PageOracle::in_space(uint64_t addr, unsigned bits) const {
  return (addr & ~low_mask(bits)) == 0;
}

// The error of the first page, in iova order, that cannot be mapped; 0 if none.
int PageOracle::first_error(uint64_t iova, uint64_t paddr, uint64_t size, int prot) const {
  if (!in_space(iova, cfg_.ias) || !in_space(paddr, cfg_.oas)) return -ERANGE;
  if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;
  for (uint64_t off = 0; off < size; off += page_) {
    const bool wrapped = iova + off < iova || paddr + off < paddr;
    if (wrapped || !in_space(iova + off, cfg_.ias) || !in_space(paddr + off, cfg_.oas))
      return -ERANGE;
    if (pages_.count(iova + off)) return -EEXIST;
  }
  return 0;
}

// Largest size first, page by page: the leaves a correct driver ends up with, smaller than
// `below`, reported as (leaf iova, leaf size).
template <class F>
void PageOracle::for_each_greedy_leaf(uint64_t iova, uint64_t paddr, uint64_t size,
                                      uint64_t below, F&& f) const {
  uint64_t off = 0;
  while (off < size) {
    uint64_t leaf = page_;
    for (uint64_t s = page_; s < below && s != 0; s <<= 1)
      if ((cfg_.pgsize_bitmap & s) && s <= size - off && (iova + off) % s == 0 &&
          (paddr + off) % s == 0)
        leaf = s;
    f(iova + off, leaf);
    off += leaf;
  }
}

void PageOracle::relabel(uint64_t iova, uint64_t paddr, uint64_t size, uint64_t below) {
  for_each_greedy_leaf(iova, paddr, size, below, [&](uint64_t leaf_iova, uint64_t leaf_size) {
    for (uint64_t p = 0; p < leaf_size; p += page_) {
      pages_.at(leaf_iova + p).leaf_iova = leaf_iova;
      pages_.at(leaf_iova + p).leaf_size = leaf_size;
    }
  });
}

int PageOracle::map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  if ((iova | paddr | size) % page_ != 0) return -EINVAL;
  if (size == 0) return 0;
  if (int err = first_error(iova, paddr, size, prot)) return err;
  for (uint64_t off = 0; off < size; off += page_)
    pages_[iova + off] = Page{paddr + off, prot, 0, 0, cfg_.np_caching};
  relabel(iova, paddr, size, uint64_t{1} << 63);
  return 0;
}

void PageOracle::iotlb_sync_map(uint64_t iova, uint64_t size) {
  if (size == 0) return;
  const uint64_t first = iova / page_, last = (iova + size - 1) / page_;
  for (uint64_t page = first; page <= last; ++page)
    if (auto it = pages_.find(page * page_); it != pages_.end()) it->second.pending = false;
}

int PageOracle::map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  const int ret = map_nosync(iova, paddr, size, prot);
  if (ret == 0) iotlb_sync_map(iova, size);
  return ret;
}

int64_t PageOracle::map_sg(uint64_t iova, std::span<const Segment> segments, int prot) {
  // Merge first, then map run by run.
  std::vector<Segment> runs;
  for (const Segment& s : segments) {
    if (s.length == 0) return -EINVAL;
    if (!runs.empty() && runs.back().paddr + runs.back().length == s.paddr)
      runs.back().length += s.length;
    else
      runs.push_back(s);
  }
  uint64_t mapped = 0;
  for (const Segment& r : runs) {
    if (int err = map_nosync(iova + mapped, r.paddr, r.length, prot)) {
      unmap_as(iova, mapped, std::nullopt);
      return err;
    }
    mapped += r.length;
  }
  iotlb_sync_map(iova, mapped);
  return static_cast<int64_t>(mapped);
}

void PageOracle::remove_page(uint64_t page, std::optional<GatherId> stale_gather) {
  auto it = pages_.find(page);
  if (stale_gather) stale_.emplace(page, StalePage{it->second.paddr, it->second.prot, *stale_gather});
  pages_.erase(it);
}

uint64_t PageOracle::unmap_as(uint64_t iova, uint64_t size, std::optional<GatherId> stale_gather) {
  if ((iova | size) % page_ != 0) return 0;
  uint64_t done = 0, pos = iova;
  while (done < size) {
    auto it = pages_.find(pos);
    if (it == pages_.end()) break;
    const Page leaf = it->second;
    const uint64_t leaf_first = leaf.leaf_iova;
    const uint64_t leaf_paddr = leaf.paddr - (pos - leaf_first);
    const bool whole = leaf_first == pos && leaf.leaf_size <= size - done;
    if (!whole && cfg_.partial_unmap == PartialUnmap::kRefuse) break;
    if (whole || cfg_.partial_unmap == PartialUnmap::kWhole) {
      for (uint64_t p = 0; p < leaf.leaf_size; p += page_) remove_page(leaf_first + p, stale_gather);
      done += leaf.leaf_size;
      pos += leaf.leaf_size;
      continue;
    }
    // Split: remove from pos to the end of the leaf or of the request, keep the rest.
    const uint64_t leaf_end = leaf_first + leaf.leaf_size;
    const uint64_t cut_end = std::min(leaf_end - pos, size - done) + pos;
    for (uint64_t p = pos; p < cut_end; p += page_) remove_page(p, stale_gather);
    if (pos > leaf_first) relabel(leaf_first, leaf_paddr, pos - leaf_first, leaf.leaf_size);
    if (cut_end < leaf_end)
      relabel(cut_end, leaf_paddr + (cut_end - leaf_first), leaf_end - cut_end, leaf.leaf_size);
    done += cut_end - pos;
    pos = cut_end;
  }
  return done;
}

uint64_t PageOracle::unmap(uint64_t iova, uint64_t size) {
  if (cfg_.invalidation == Invalidation::kLazy) return unmap_as(iova, size, kFlushQueue);
  return unmap_as(iova, size, std::nullopt);
}

uint64_t PageOracle::unmap_fast(uint64_t iova, uint64_t size, GatherId gather) {
  return unmap_as(iova, size, gather);
}

void PageOracle::iotlb_sync(GatherId gather) {
  std::erase_if(stale_, [gather](const auto& kv) { return kv.second.gather == gather; });
}

void PageOracle::flush_iotlb_all() { stale_.clear(); }

uint64_t PageOracle::iova_to_phys(uint64_t iova) const {
  auto it = pages_.find(iova & ~(page_ - 1));
  return it == pages_.end() ? 0 : it->second.paddr + (iova & (page_ - 1));
}

std::optional<LeafInfo> PageOracle::leaf_at(uint64_t iova) const {
  auto it = pages_.find(iova & ~(page_ - 1));
  if (it == pages_.end()) return std::nullopt;
  const Page& p = it->second;
  const uint64_t leaf_paddr = p.paddr - (it->first - p.leaf_iova);
  return LeafInfo{p.leaf_iova, leaf_paddr, p.leaf_size, p.prot};
}

DeviceView PageOracle::device_view(uint64_t iova) const {
  DeviceView view;
  const uint64_t page = iova & ~(page_ - 1), off = iova & (page_ - 1);
  if (auto it = pages_.find(page); it != pages_.end()) {
    view.current = Observation{it->second.paddr + off, it->second.prot};
    view.may_fault = it->second.pending;
  }
  auto [lo, hi] = stale_.equal_range(page);
  for (auto it = lo; it != hi; ++it) view.stale.push_back({it->second.paddr + off, it->second.prot});
  return view;
}

}  // namespace iommu::ref
