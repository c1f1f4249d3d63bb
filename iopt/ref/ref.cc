#include "iopt/ref/ref.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace iommu::iopt::ref {
namespace {

constexpr int kRead = 1, kWrite = 2;  // IOMMU_READ, IOMMU_WRITE

}  // namespace

bool Model::aligned_range(uint64_t iova, uint64_t length) const {
  if (length == 0 || iova % kPageSize || length % kPageSize) return false;
  return iova + length > iova && iova + length <= iova_limit_;
}

const Model::Area* Model::area_at(uint64_t iova, uint64_t* base) const {
  auto it = areas_.upper_bound(iova);
  if (it == areas_.begin()) return nullptr;
  --it;
  if (iova >= it->first + (it->second.npages << kPageShift)) return nullptr;
  if (base) *base = it->first;
  return &it->second;
}

bool Model::free_range(uint64_t iova, uint64_t length) const {
  for (const auto& [at, a] : areas_)
    if (at < iova + length && iova < at + (a.npages << kPageShift)) return false;
  return true;
}

uint64_t Model::uva_of(uint64_t iova) const {
  uint64_t base = 0;
  const Area* a = area_at(iova, &base);
  const PagesObj& p = pages_.at(a->pages);
  return ((p.uva_page + a->first) << kPageShift) + (iova - base);
}

uint64_t Model::runs(unsigned pages, uint64_t first, uint64_t npages) const {
  uint64_t n = 0, next_pfn = 0;
  for (const PfnRun& r : mm_.runs_of(pages_.at(pages).uva_page + first, npages)) {
    if (n == 0 || r.pfn != next_pfn) ++n;
    next_pfn = r.pfn + r.npfns;
  }
  return n;
}

int Model::map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot, bool apply) {
  if (!aligned_range(iova, length) || uva % kPageSize || !(prot & (kRead | kWrite))) return -EINVAL;
  if (!free_range(iova, length)) return -EEXIST;
  const uint64_t first = uva >> kPageShift, npages = length >> kPageShift;
  if (first > mm_.npages() || npages > mm_.npages() - first) return -EFAULT;
  if (apply) {
    unsigned id = next_pages_++;
    pages_[id] = {first, npages, (prot & kWrite) != 0};
    areas_[iova] = {npages, id, 0, prot};
    iova_seen_.insert({iova, iova + length});
    expected_map_calls_ = attached_.size() * runs(id, 0, npages);
  }
  return 0;
}

int Model::copy(uint64_t dst_iova, uint64_t src_iova, uint64_t length, int prot, bool apply) {
  if (!aligned_range(dst_iova, length) || !aligned_range(src_iova, length) ||
      !(prot & (kRead | kWrite)))
    return -EINVAL;
  uint64_t base = 0;
  const Area* src = area_at(src_iova, &base);
  if (!src || src_iova + length > base + (src->npages << kPageShift)) return -ENOENT;
  if ((prot & kWrite) && !pages_.at(src->pages).writable) return -EPERM;
  if (!free_range(dst_iova, length)) return -EEXIST;
  if (apply) {
    Area a{length >> kPageShift, src->pages, src->first + ((src_iova - base) >> kPageShift), prot};
    areas_[dst_iova] = a;
    iova_seen_.insert({dst_iova, dst_iova + length});
    expected_map_calls_ = attached_.size() * runs(a.pages, a.first, a.npages);
  }
  return 0;
}

int Model::unmap(uint64_t iova, uint64_t length, bool apply) {
  if (!aligned_range(iova, length)) return -EINVAL;
  std::vector<uint64_t> inside;
  for (const auto& [at, a] : areas_) {
    const uint64_t end = at + (a.npages << kPageShift);
    if (end <= iova || at >= iova + length) continue;
    if (at < iova || end > iova + length) return -ENOENT;
    inside.push_back(at);
  }
  if (inside.empty()) return -ENOENT;
  for (const auto& [id, acc] : accesses_)
    for (uint64_t at : inside)
      if (acc.iova < at + (areas_.at(at).npages << kPageShift) && at < acc.iova + acc.length)
        return -EBUSY;
  if (apply) {
    for (uint64_t at : inside) {
      unsigned p = areas_.at(at).pages;
      areas_.erase(at);
      bool used = std::any_of(areas_.begin(), areas_.end(),
                              [&](const auto& kv) { return kv.second.pages == p; });
      if (!used) pages_.erase(p);
    }
  }
  return 0;
}

int Model::attach(unsigned domain, uint64_t pgsize_bitmap, unsigned ias, bool apply) {
  if (attached_.count(domain)) return -EEXIST;
  if (!(pgsize_bitmap & kPageSize)) return -EINVAL;
  if (ias < 64 && iova_limit_ > (uint64_t{1} << ias)) return -EINVAL;
  known_.insert(domain);  // even a failed attach must leave it translating nothing
  if (apply) {
    attached_.insert(domain);
    expected_map_calls_ = 0;
    for (const auto& [at, a] : areas_) expected_map_calls_ += runs(a.pages, a.first, a.npages);
  }
  return 0;
}

int Model::detach(unsigned domain, bool apply) {
  if (!attached_.count(domain)) return -ENOENT;
  if (apply) attached_.erase(domain);
  return 0;
}

// Walks the range in iova order, as the first failing rule decides the errno.
bool Model::covered(uint64_t iova, uint64_t length, bool write, int& rc) const {
  for (uint64_t at = iova; at < iova + length;) {
    uint64_t base = 0;
    const Area* a = area_at(at, &base);
    if (!a) return rc = -ENOENT, false;
    if (write && !(a->prot & kWrite)) return rc = -EPERM, false;
    at = base + (a->npages << kPageShift);
  }
  return true;
}

int Model::add_access(uint64_t iova, uint64_t length, bool write, uint64_t id, bool apply) {
  if (!aligned_range(iova, length)) return -EINVAL;
  int rc = 0;
  if (!covered(iova, length, write, rc)) return rc;
  if (apply) accesses_[id] = {iova, length, write};
  return 0;
}

int Model::remove_access(uint64_t id, bool apply) {
  if (!accesses_.count(id)) return -ENOENT;
  if (apply) accesses_.erase(id);
  return 0;
}

int Model::access_rw(uint64_t id, uint64_t offset, uint64_t length, bool write) const {
  auto it = accesses_.find(id);
  if (it == accesses_.end()) return -ENOENT;
  if (offset > it->second.length || length > it->second.length - offset) return -EINVAL;
  if (write && !it->second.write) return -EPERM;
  return 0;
}

void Model::expected_bytes(uint64_t id, uint64_t offset, std::span<uint8_t> out) const {
  const Access& acc = accesses_.at(id);
  for (size_t i = 0; i < out.size(); ++i)
    mm_.user_read(uva_of(acc.iova + offset + i), out.subspan(i, 1));
}

std::map<uint64_t, unsigned> Model::expected_pins() const {
  // Per pages object, the indices something holds; each held index is one pin.
  std::map<unsigned, std::set<uint64_t>> held;
  if (!attached_.empty())
    for (const auto& [at, a] : areas_)
      for (uint64_t i = 0; i < a.npages; ++i) held[a.pages].insert(a.first + i);
  for (const auto& [id, acc] : accesses_)
    for (uint64_t off = 0; off < acc.length; off += kPageSize) {
      uint64_t base = 0;
      const Area* a = area_at(acc.iova + off, &base);
      held[a->pages].insert(a->first + ((acc.iova + off - base) >> kPageShift));
    }
  std::map<uint64_t, unsigned> pins;
  for (const auto& [p, indices] : held)
    for (uint64_t i : indices) ++pins[pages_.at(p).uva_page + i];
  return pins;
}

void Model::check_translation(const Observed& seen, std::vector<std::string>& out) const {
  for (unsigned d : known_) {
    const bool attached = attached_.count(d) != 0;
    bool reported = false;
    for (const auto& [start, end] : iova_seen_) {
      for (uint64_t iova = start; iova < end && !reported; iova += kPageSize) {
        uint64_t want = 0;
        if (attached && area_at(iova, nullptr))
          want = mm_.pfn_of(uva_of(iova) >> kPageShift) << kPageShift;
        uint64_t got = seen.iova_to_phys(d, iova);
        if (got == want) continue;
        out.push_back(fmt::format("translation: domain {}{} maps iova {:#x} to {:#x}, expected {}",
                                  d, attached ? "" : " (not attached)", iova, got,
                                  want ? fmt::format("{:#x}", want) : std::string("nothing")));
        reported = true;
      }
    }
  }
}

void Model::check_pins(std::vector<std::string>& out) const {
  const std::map<uint64_t, unsigned> want = expected_pins();
  unsigned reported = 0;
  for (uint64_t page = 0; page < mm_.npages() && reported < 3; ++page) {
    auto it = want.find(page);
    const uint64_t expect = it == want.end() ? 0 : it->second;
    const uint64_t pfn = mm_.pfn_of(page);
    if (mm_.pins(pfn) == expect) continue;
    out.push_back(fmt::format("pins: user page {:#x} (pfn {:#x}) has {} pin(s), expected {}",
                              page << kPageShift, pfn, mm_.pins(pfn), expect));
    ++reported;
  }
  for (const std::string& m : mm_.misuse()) out.push_back("pins: " + m);
}

void Model::check_xarray(const Observed& seen, std::vector<std::string>& out) const {
  // One entry per page of a pages object that any access covers, however many do.
  std::map<unsigned, std::set<uint64_t>> covered_uvas;
  for (const auto& [id, acc] : accesses_)
    for (uint64_t off = 0; off < acc.length; off += kPageSize) {
      uint64_t iova = acc.iova + off;
      covered_uvas[area_at(iova, nullptr)->pages].insert(uva_of(iova));
    }
  std::multiset<std::pair<uint64_t, uint64_t>> want, got(seen.xarray.begin(), seen.xarray.end());
  for (const auto& [p, uvas] : covered_uvas)
    for (uint64_t uva : uvas) want.insert({uva, mm_.pfn_of(uva >> kPageShift)});
  unsigned reported = 0;
  for (auto it = got.begin(); it != got.end(); it = got.upper_bound(*it))
    if (got.count(*it) > want.count(*it) && reported++ < 3)
      out.push_back(
          fmt::format("xarray: holds user page {:#x} as pfn {:#x} {} time(s), expected {}",
                      it->first, it->second, got.count(*it), want.count(*it)));
  for (auto it = want.begin(); it != want.end(); it = want.upper_bound(*it))
    if (got.count(*it) < want.count(*it) && reported++ < 3)
      out.push_back(fmt::format("xarray: holds user page {:#x} (pfn {:#x}) {} time(s), expected {}",
                                it->first, it->second, got.count(*it), want.count(*it)));
}

std::vector<std::string> Model::check(const Observed& seen) const {
  std::vector<std::string> out;
  check_translation(seen, out);
  check_pins(out);
  check_xarray(seen, out);
  return out;
}

}  // namespace iommu::iopt::ref
