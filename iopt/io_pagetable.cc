#include "iopt/io_pagetable.h"

#include <algorithm>
#include <cerrno>

#include "base/prot.h"

namespace iommu::iopt {

// An attached domain as the storage sees it: the caller's domain, with its calls counted.
struct IoPagetable::Counted : IoDomain {
  Counted(IoDomain& d, uint64_t& maps, uint64_t& unmaps)
      : inner(d), map_calls(maps), unmap_calls(unmaps) {}
  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) override {
    ++map_calls;
    return inner.map(iova, paddr, size, prot);
  }
  uint64_t unmap(uint64_t iova, uint64_t size) override {
    ++unmap_calls;
    return inner.unmap(iova, size);
  }
  uint64_t iova_to_phys(uint64_t iova) override { return inner.iova_to_phys(iova); }
  uint64_t pgsize_bitmap() const override { return inner.pgsize_bitmap(); }
  unsigned ias() const override { return inner.ias(); }

  IoDomain& inner;
  uint64_t& map_calls;
  uint64_t& unmap_calls;
};

IoPagetable::IoPagetable(UserMemory& mm, FaultInjector& faults, IoptConfig cfg)
    : mm_(mm), faults_(faults), cfg_(cfg) {}

IoPagetable::~IoPagetable() {
  while (!accesses_.empty()) remove_access(accesses_.begin()->first);
  while (!areas_.empty()) {
    unfill_domains(*areas_.begin()->second);
    drop_area(areas_.begin()->first);
  }
}

bool IoPagetable::range_ok(uint64_t iova, uint64_t length) const {
  return length && iova % kPageSize == 0 && length % kPageSize == 0 && iova + length > iova &&
         iova + length <= cfg_.iova_limit;
}

bool IoPagetable::iova_free(uint64_t iova, uint64_t length) const {
  auto it = areas_.lower_bound(iova);
  if (it != areas_.end() && it->first < iova + length) return false;
  if (it == areas_.begin()) return true;
  --it;
  return it->first + it->second->length() <= iova;
}

Area* IoPagetable::area_at(uint64_t iova) {
  auto it = areas_.upper_bound(iova);
  if (it == areas_.begin()) return nullptr;
  --it;
  return iova < it->first + it->second->length() ? it->second.get() : nullptr;
}

std::vector<IoDomain*> IoPagetable::domains() const {
  std::vector<IoDomain*> out;
  for (const auto& d : domains_) out.push_back(d.get());
  return out;
}

IoPagetable::Counted* IoPagetable::counted(IoDomain& domain) const {
  for (const auto& d : domains_)
    if (&d->inner == &domain) return d.get();
  return nullptr;
}

int IoPagetable::map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot) {
  if (!range_ok(iova, length) || uva % kPageSize || !(prot & (IOMMU_READ | IOMMU_WRITE)))
    return -EINVAL;
  if (!iova_free(iova, length)) return -EEXIST;
  const uint64_t uva_page = uva >> kPageShift, npages = length >> kPageShift;
  if (uva_page > mm_.npages() || npages > mm_.npages() - uva_page) return -EFAULT;
  if (faults_.should_fail()) return -ENOMEM;  // the pages object
  auto pages =
      std::make_unique<Pages>(mm_, faults_, cfg_, uva_page, npages, (prot & IOMMU_WRITE) != 0);
  Pages* p = pages.get();
  pages_[p] = std::move(pages);
  pages_refs_[p] = 0;
  int rc = insert_area(iova, p, 0, npages, prot);
  if (rc) {
    pages_.erase(p);
    pages_refs_.erase(p);
  }
  return rc;
}

int IoPagetable::copy(uint64_t dst_iova, uint64_t src_iova, uint64_t length, int prot) {
  if (!range_ok(dst_iova, length) || !range_ok(src_iova, length) ||
      !(prot & (IOMMU_READ | IOMMU_WRITE)))
    return -EINVAL;
  Area* src = area_at(src_iova);
  if (!src || src_iova + length > src->iova + src->length()) return -ENOENT;
  if ((prot & IOMMU_WRITE) && !src->pages->writable()) return -EPERM;
  if (!iova_free(dst_iova, length)) return -EEXIST;
  return insert_area(dst_iova, src->pages,
                     src->first_index + ((src_iova - src->iova) >> kPageShift),
                     length >> kPageShift, prot);
}

int IoPagetable::insert_area(uint64_t iova, Pages* pages, uint64_t first_index, uint64_t npages,
                             int prot) {
  if (faults_.should_fail()) return -ENOMEM;  // the area
  auto area = std::make_unique<Area>(Area{iova, npages, pages, first_index, prot});
  if (int rc = pages->fill_domains(*area, domains())) return rc;
  ++pages_refs_[pages];
  areas_[iova] = std::move(area);
  return 0;
}

int IoPagetable::unmap(uint64_t iova, uint64_t length) {
  if (!range_ok(iova, length)) return -EINVAL;
  const uint64_t end = iova + length;
  std::vector<uint64_t> doomed;
  bool busy = false;
  for (const auto& [at, area] : areas_) {
    if (at >= end || at + area->length() <= iova) continue;
    if (at < iova || at + area->length() > end) return -ENOENT;
    busy |= area->accesses != 0;
    doomed.push_back(at);
  }
  if (doomed.empty()) return -ENOENT;
  if (busy) return -EBUSY;
  for (uint64_t at : doomed) {
    unfill_domains(*areas_.at(at));
    drop_area(at);
  }
  return 0;
}

// iopt_area_unfill_domains: the other domains only unmap; the storage domain unpins.
void IoPagetable::unfill_domains(Area& area) {
  IoDomain* storage = area.storage_domain;
  if (!storage) return;
  for (IoDomain* d : domains())
    if (d != storage) d->unmap(area.iova, area.length());
  area.pages->store_in_domain(area, nullptr);
  area.pages->unfill_domain(area, *storage);
}

void IoPagetable::drop_area(uint64_t iova) {
  Pages* p = areas_.at(iova)->pages;
  areas_.erase(iova);
  if (--pages_refs_[p] == 0) {
    pages_.erase(p);
    pages_refs_.erase(p);
  }
}

int IoPagetable::attach(IoDomain& domain) {
  if (counted(domain)) return -EEXIST;
  if (!(domain.pgsize_bitmap() & kPageSize)) return -EINVAL;
  if (domain.ias() < 64 && (uint64_t{1} << domain.ias()) < cfg_.iova_limit) return -EINVAL;
  if (faults_.should_fail()) return -ENOMEM;  // the domain's slot
  auto c = std::make_unique<Counted>(domain, map_calls_, unmap_calls_);
  const bool first = domains_.empty();
  for (auto it = areas_.begin(); it != areas_.end(); ++it) {
    if (cfg_.mutant == Mutant::kUnfilledAttach && it != areas_.begin()) break;
    Area& a = *it->second;
    if (int rc = a.pages->fill_domain(a, *c)) {
      // Undo in the same order: with the first domain, each area leaves the domain tier
      // before its unfill, so a page a later area still stores stays pinned.
      for (auto undo = areas_.begin(); undo != it; ++undo) {
        Area& u = *undo->second;
        if (first) {
          u.pages->store_in_domain(u, nullptr);
          u.pages->unfill_domain(u, *c);
        } else {
          c->unmap(u.iova, u.length());
        }
      }
      return rc;
    }
    if (first) a.pages->store_in_domain(a, c.get());
  }
  domains_.push_back(std::move(c));
  return 0;
}

int IoPagetable::detach(IoDomain& domain) {
  auto it = std::find_if(domains_.begin(), domains_.end(),
                         [&](const auto& d) { return &d->inner == &domain; });
  if (it == domains_.end()) return -ENOENT;
  std::unique_ptr<Counted> c = std::move(*it);
  domains_.erase(it);
  for (auto& [at, area] : areas_) {
    if (!domains_.empty()) {
      // Another domain holds every PFN: it becomes the storage and this one only unmaps.
      if (area->storage_domain == c.get()) area->storage_domain = domains_.front().get();
      c->unmap(area->iova, area->length());
    } else {
      area->pages->store_in_domain(*area, nullptr);
      area->pages->unfill_domain(*area, *c);
    }
  }
  return 0;
}

int IoPagetable::pieces_of(uint64_t iova, uint64_t length, bool write, std::vector<Piece>& out) {
  for (uint64_t at = iova; at < iova + length;) {
    Area* a = area_at(at);
    if (!a) return -ENOENT;
    if (write && !(a->prot & IOMMU_WRITE)) return -EPERM;
    uint64_t end = std::min(iova + length, a->iova + a->length());
    uint64_t first = a->first_index + ((at - a->iova) >> kPageShift);
    out.push_back({a, first, first + ((end - at) >> kPageShift) - 1});
    at = end;
  }
  return 0;
}

int IoPagetable::add_access(uint64_t iova, uint64_t length, bool write, AccessId* id) {
  if (!range_ok(iova, length) || !id) return -EINVAL;
  std::vector<Piece> pieces;
  if (int rc = pieces_of(iova, length, write, pieces)) return rc;
  if (faults_.should_fail()) return -ENOMEM;  // the access
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece& p = pieces[i];
    if (int rc = p.area->pages->add_access(p.first, p.last)) {
      while (i--) {
        pieces[i].area->pages->remove_access(pieces[i].first, pieces[i].last);
        --pieces[i].area->accesses;
      }
      return rc;
    }
    ++p.area->accesses;
  }
  *id = next_access_++;
  accesses_[*id] = {iova, length, write, std::move(pieces)};
  return 0;
}

int IoPagetable::remove_access(AccessId id) {
  auto it = accesses_.find(id);
  if (it == accesses_.end()) return -ENOENT;
  for (Piece& p : it->second.pieces) {
    p.area->pages->remove_access(p.first, p.last);
    --p.area->accesses;
  }
  accesses_.erase(it);
  return 0;
}

int IoPagetable::access_rw(AccessId id, uint64_t offset, std::span<uint8_t> data, bool write) {
  auto it = accesses_.find(id);
  if (it == accesses_.end()) return -ENOENT;
  const Access& acc = it->second;
  if (offset > acc.length || data.size() > acc.length - offset) return -EINVAL;
  if (write && !acc.write) return -EPERM;
  for (uint64_t pos = 0; pos < data.size();) {
    const uint64_t iova = acc.iova + offset + pos;
    const Area* a = area_at(iova);
    const uint64_t pfn = a->pages->xarray_pfn(a->first_index + ((iova - a->iova) >> kPageShift));
    if (!pfn) return -EFAULT;
    const uint64_t in_page = iova & (kPageSize - 1);
    const uint64_t n = std::min<uint64_t>(kPageSize - in_page, data.size() - pos);
    if (write)
      mm_.kernel_write(pfn, in_page, data.subspan(pos, n));
    else
      mm_.kernel_read(pfn, in_page, data.subspan(pos, n));
    pos += n;
  }
  return 0;
}

IoptStats IoPagetable::stats() const {
  IoptStats s;
  s.areas = areas_.size();
  s.pages_objects = pages_.size();
  s.accesses = accesses_.size();
  for (const auto& [p, owned] : pages_) {
    s.access_ranges += p->access_ranges();
    s.xarray_entries += p->xarray().size();
    s.pinned += p->npinned();
  }
  s.map_calls = map_calls_;
  s.unmap_calls = unmap_calls_;
  return s;
}

std::vector<XarrayEntry> IoPagetable::xarray_entries() const {
  std::vector<XarrayEntry> out;
  for (const auto& [p, owned] : pages_)
    for (const auto& [index, pfn] : p->xarray())
      out.push_back({(p->uva_page() + index) << kPageShift, pfn});
  std::sort(out.begin(), out.end(),
            [](const XarrayEntry& a, const XarrayEntry& b) { return a.uva < b.uva; });
  return out;
}

}  // namespace iommu::iopt
