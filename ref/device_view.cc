#include "ref/device_view.h"

#include <algorithm>

#include "base/prot.h"

namespace iommu::ref {

bool prot_permits(int prot, const DeviceAccess& access) {
  if ((prot & IOMMU_PRIV) && !access.priv) return false;
  if (access.write) return prot & IOMMU_WRITE;
  if (access.exec) return (prot & IOMMU_READ) && !(prot & IOMMU_NOEXEC);
  return prot & IOMMU_READ;
}

bool DeviceView::allows_fault(const DeviceAccess& access) const {
  return may_fault || !current || !prot_permits(current->prot, access);
}

bool DeviceView::allows_translation(uint64_t paddr, const DeviceAccess& access) const {
  auto grants = [&](const Observation& o) { return o.paddr == paddr && prot_permits(o.prot, access); };
  if (current && grants(*current)) return true;
  return std::any_of(stale.begin(), stale.end(), grants);
}

void StaleSet::add(uint64_t first, uint64_t last, uint64_t paddr, int prot, GatherId gather) {
  entries_.emplace(first, Entry{last, paddr, prot, gather});
  max_span_ = std::max(max_span_, last - first);
}

void StaleSet::complete(GatherId gather) {
  std::erase_if(entries_, [gather](const auto& kv) { return kv.second.gather == gather; });
}

template <class F>
void StaleSet::for_each_intersecting(uint64_t first, uint64_t last, F&& f) const {
  const uint64_t from = first > max_span_ ? first - max_span_ : 0;
  for (auto it = entries_.lower_bound(from); it != entries_.end() && it->first <= last; ++it)
    if (it->second.last >= first) f(it->first, it->second);
}

void StaleSet::observe(uint64_t iova, std::vector<Observation>& out) const {
  for_each_intersecting(iova, iova, [&](uint64_t first, const Entry& e) {
    out.push_back({e.paddr + (iova - first), e.prot});
  });
}

bool StaleSet::intersects(uint64_t first, uint64_t last) const {
  bool hit = false;
  for_each_intersecting(first, last, [&](uint64_t, const Entry&) { hit = true; });
  return hit;
}

void IntervalSet::add(uint64_t first, uint64_t last) {
  subtract(first, last);
  ranges_.emplace(first, last);
}

void IntervalSet::subtract(uint64_t first, uint64_t last) {
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first <= last) {
    const auto [lo, hi] = *it;
    if (hi < first) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    if (lo < first) ranges_.emplace(lo, first - 1);
    if (hi > last) ranges_.emplace(last + 1, hi);
  }
}

bool IntervalSet::contains(uint64_t x) const {
  auto it = ranges_.upper_bound(x);
  if (it == ranges_.begin()) return false;
  return std::prev(it)->second >= x;
}

}  // namespace iommu::ref
