#include "iopt/pages.h"

#include <algorithm>
#include <cerrno>

namespace iommu::iopt {

std::vector<Span> Pages::spans(uint64_t first, uint64_t last) const {
  std::vector<uint64_t> cuts{first, last + 1};
  auto cut = [&](uint64_t at) {
    if (at > first && at <= last) cuts.push_back(at);
  };
  for (const AccessRange& a : accesses_) cut(a.first), cut(a.last + 1);
  for (const Area* ar : domain_areas_) cut(ar->first_index), cut(ar->last_index() + 1);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  std::vector<Span> out;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    uint64_t at = cuts[i];
    Span s{at, cuts[i + 1] - 1, false, false};
    for (const AccessRange& a : accesses_) s.in_access |= a.first <= at && at <= a.last;
    for (const Area* ar : domain_areas_)
      s.in_domain |= ar->first_index <= at && at <= ar->last_index();
    if (!out.empty() && out.back().in_access == s.in_access && out.back().in_domain == s.in_domain)
      out.back().last = s.last;
    else
      out.push_back(s);
  }
  return out;
}

const Area* Pages::domain_area(uint64_t index) const {
  for (const Area* ar : domain_areas_)
    if (ar->first_index <= index && index <= ar->last_index()) return ar;
  return nullptr;
}

uint64_t Pages::xarray_pfn(uint64_t index) const {
  auto it = xarray_.find(index);
  return it == xarray_.end() ? 0 : it->second;
}

void Pages::unpin(uint64_t pfn) {
  mm_.unpin(pfn);
  --npinned_;
}

void Pages::store_in_domain(Area& area, IoDomain* domain) {
  area.storage_domain = domain;
  auto it = std::find(domain_areas_.begin(), domain_areas_.end(), &area);
  if (domain && it == domain_areas_.end()) domain_areas_.push_back(&area);
  if (!domain && it != domain_areas_.end()) domain_areas_.erase(it);
}

// batch_to_domain: one iommu_map per run; on error this call's maps are undone.
int Pages::batch_to_domain(const PfnBatch& batch, IoDomain& domain, const Area& area,
                           uint64_t first_index) {
  const uint64_t start = area.iova_of(first_index);
  uint64_t iova = start;
  const bool per_page = cfg_.mutant == Mutant::kMapPerPage;
  for (const PfnRun& run : batch.runs()) {
    const uint64_t step = per_page ? kPageSize : run.npfns << kPageShift;
    for (uint64_t off = 0; off < run.npfns << kPageShift; off += step) {
      int rc = domain.map(iova, (run.pfn << kPageShift) + off, step, area.prot);
      if (rc) {
        if (iova != start) domain.unmap(start, iova - start);
        return rc;
      }
      iova += step;
    }
  }
  return 0;
}

void Pages::unmap_range(IoDomain& domain, const Area& area, uint64_t first, uint64_t end) {
  if (end > first) domain.unmap(area.iova_of(first), (end - first) << kPageShift);
}

int Pages::fill_domain(Area& area, IoDomain& domain) {
  if (faults_.should_fail()) return -ENOMEM;  // the reader's batch
  PfnReader reader(*this, area.first_index, area.last_index());
  uint64_t mapped_end = area.first_index;
  int rc = 0;
  while (!reader.done()) {
    if ((rc = reader.next())) break;
    if ((rc = batch_to_domain(reader.batch(), domain, area, reader.batch_first()))) break;
    mapped_end = reader.batch_end();
  }
  if (rc == 0) return 0;
  unmap_range(domain, area, area.first_index, mapped_end);
  reader.unpin_taken(area.first_index);
  return rc;
}

int Pages::fill_domains(Area& area, const std::vector<IoDomain*>& domains) {
  if (domains.empty()) return 0;
  if (faults_.should_fail()) return -ENOMEM;  // the reader's batch
  PfnReader reader(*this, area.first_index, area.last_index());
  uint64_t all_end = area.first_index;  // every domain maps [first_index, all_end)
  size_t failed = 0;                    // domains before it also map the current batch
  int rc = 0;
  while (!reader.done() && rc == 0) {
    if ((rc = reader.next())) {
      failed = 0;
      break;
    }
    for (failed = 0; failed < domains.size(); ++failed)
      if ((rc = batch_to_domain(reader.batch(), *domains[failed], area, reader.batch_first())))
        break;
    if (rc == 0) all_end = reader.batch_end();
  }
  if (rc == 0) {
    store_in_domain(area, domains.front());
    return 0;
  }
  for (size_t i = 0; i < domains.size(); ++i)
    unmap_range(*domains[i], area, area.first_index, i < failed ? reader.batch_end() : all_end);
  // Unpin only after every domain has let go of the pages.
  if (cfg_.mutant != Mutant::kLeakPinOnError) reader.unpin_taken(area.first_index);
  return rc;
}

void Pages::unpin_holes(uint64_t first, uint64_t pfn, uint64_t n, bool access_holds) {
  for (const Span& s : spans(first, first + n - 1)) {
    if (s.in_domain || (s.in_access && access_holds)) continue;
    for (uint64_t i = s.first; i <= s.last; ++i) unpin(pfn + (i - first));
  }
}

// Reads the PFNs back from the domain run by run: each run is unmapped whole (a run is one or
// more whole iommu_map calls, so no driver has to split a leaf), then the pages of the run
// that nothing else holds are unpinned, never before their unmap.
void Pages::unfill_domain(Area& area, IoDomain& domain) {
  const bool access_holds = cfg_.mutant != Mutant::kUnpinAcrossAccess;
  const uint64_t last = area.last_index();
  auto pfn_at = [&](uint64_t index) {
    return domain.iova_to_phys(area.iova_of(index)) >> kPageShift;
  };
  for (uint64_t index = area.first_index; index <= last;) {
    const uint64_t pfn = pfn_at(index);
    if (pfn == 0) {  // not stored here: nothing to unmap or unpin
      ++index;
      continue;
    }
    uint64_t n = 1;
    while (index + n <= last && pfn_at(index + n) == pfn + n) ++n;
    domain.unmap(area.iova_of(index), n << kPageShift);
    unpin_holes(index, pfn, n, access_holds);
    index += n;
  }
}

int Pages::fill_xarray(uint64_t first, uint64_t last) {
  if (faults_.should_fail()) return -ENOMEM;  // the reader's batch
  PfnReader reader(*this, first, last);
  uint64_t stored_end = first;
  int rc = 0;
  while (!reader.done()) {
    if ((rc = reader.next())) break;
    if (faults_.should_fail()) {  // the xarray nodes for this batch
      rc = -ENOMEM;
      break;
    }
    uint64_t index = reader.batch_first();
    for (const PfnRun& run : reader.batch().runs())
      for (uint64_t k = 0; k < run.npfns; ++k) xarray_[index++] = run.pfn + k;
    stored_end = reader.batch_end();
  }
  if (rc == 0) return 0;
  if (stored_end > first) unfill_xarray(first, stored_end - 1);
  reader.unpin_taken(stored_end);
  return rc;
}

// iopt_pages_unfill_xarray, with the leaving access already out of accesses_: entries another
// access holds stay; entries a domain also stores go; the rest go and are unpinned.
void Pages::unfill_xarray(uint64_t first, uint64_t last) {
  const bool keep_domain = cfg_.mutant == Mutant::kKeepXarray;
  for (const Span& s : spans(first, last)) {
    if (s.in_access || (s.in_domain && keep_domain)) continue;
    auto it = xarray_.lower_bound(s.first);
    while (it != xarray_.end() && it->first <= s.last) {
      if (!s.in_domain) unpin(it->second);
      it = xarray_.erase(it);
    }
  }
}

int Pages::add_access(uint64_t first, uint64_t last) {
  for (AccessRange& a : accesses_)
    if (a.first == first && a.last == last) {
      ++a.users;
      return 0;
    }
  if (faults_.should_fail()) return -ENOMEM;  // the access range
  if (int rc = fill_xarray(first, last)) return rc;
  accesses_.push_back({first, last, 1});
  return 0;
}

void Pages::remove_access(uint64_t first, uint64_t last) {
  auto it = std::find_if(accesses_.begin(), accesses_.end(),
                         [&](const AccessRange& a) { return a.first == first && a.last == last; });
  if (it == accesses_.end() || --it->users) return;
  accesses_.erase(it);
  unfill_xarray(first, last);
}

PfnReader::PfnReader(Pages& pages, uint64_t first, uint64_t last)
    : pages_(pages),
      last_(last),
      spans_(pages.spans(first, last)),
      batch_(pages.cfg_.batch_runs),
      batch_first_(first),
      batch_end_(first) {}

PfnReader::~PfnReader() {
  for (uint64_t pfn : ahead_) pages_.unpin(pfn);
}

int PfnReader::next() {
  batch_.clear();
  batch_first_ = batch_end_;
  while (!done()) {
    const Span& s = spans_[span_];
    int rc = 0;
    bool room = fill_span(s, rc);
    if (rc) return rc;
    if (batch_end_ > s.last) ++span_;
    if (!room) return 0;
  }
  return 0;
}

bool PfnReader::fill_span(const Span& s, int& rc) {
  const bool domain_read = s.in_domain && !s.in_access && pages_.cfg_.mutant != Mutant::kPinTwice;
  if (!s.in_access && !domain_read) return from_user(s.last, rc);
  for (; batch_end_ <= s.last; ++batch_end_) {
    uint64_t pfn;
    if (s.in_access) {
      pfn = pages_.xarray_pfn(batch_end_);
    } else {
      const Area* ar = pages_.domain_area(batch_end_);
      pfn = ar->storage_domain->iova_to_phys(ar->iova_of(batch_end_)) >> kPageShift;
    }
    if (!batch_.add(pfn)) return false;
  }
  return true;
}

bool PfnReader::from_user(uint64_t last, int& rc) {
  for (; batch_end_ <= last; ++batch_end_) {
    if (ahead_.empty()) {
      std::vector<uint64_t> pfns(std::min(pages_.cfg_.pin_chunk, last - batch_end_ + 1));
      if ((rc = pages_.mm_.pin(pages_.uva_page_ + batch_end_, pfns))) return false;
      pages_.npinned_ += pfns.size();
      ahead_.assign(pfns.begin(), pfns.end());
    }
    if (!batch_.add(ahead_.front())) return false;
    take(batch_end_, ahead_.front());
    ahead_.pop_front();
  }
  return true;
}

void PfnReader::take(uint64_t index, uint64_t pfn) {
  if (!taken_.empty()) {
    Taken& t = taken_.back();
    if (t.index + t.run.npfns == index && t.run.pfn + t.run.npfns == pfn) {
      ++t.run.npfns;
      return;
    }
  }
  taken_.push_back({index, {pfn, 1}});
}

void PfnReader::unpin_taken(uint64_t from) {
  while (!taken_.empty() && taken_.back().index + taken_.back().run.npfns > from) {
    Taken& t = taken_.back();
    uint64_t keep = t.index >= from ? 0 : from - t.index;
    for (uint64_t k = keep; k < t.run.npfns; ++k) pages_.unpin(t.run.pfn + k);
    t.run.npfns = keep;
    if (keep) break;
    taken_.pop_back();
  }
}

}  // namespace iommu::iopt
