// The pages object (struct iopt_pages): one user range as a linear array of PFNs, indexed
// from 0, stored in three tiers: the xarray (PFNs an in-kernel access holds), the domains of
// the areas that map it (iommu_iova_to_phys reads a PFN back), and the user's memory (a PFN no
// one holds is not pinned). A PFN is pinned once, when it first leaves the user tier, however
// many areas, domains and accesses then use it, and unpinned when the last of them goes.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "iopt/batch.h"
#include "iopt/config.h"
#include "iopt/domain.h"
#include "iopt/user_memory.h"

namespace iommu::iopt {

class Pages;

// A range of IOVA mapping a slice [first_index, first_index + npages) of a pages object
// (struct iopt_area). storage_domain is set while the area is in its pages' domain tier.
struct Area {
  uint64_t iova = 0;
  uint64_t npages = 0;
  Pages* pages = nullptr;
  uint64_t first_index = 0;
  int prot = 0;
  IoDomain* storage_domain = nullptr;
  unsigned accesses = 0;

  uint64_t last_index() const { return first_index + npages - 1; }
  uint64_t iova_of(uint64_t index) const { return iova + ((index - first_index) << kPageShift); }
  uint64_t length() const { return npages << kPageShift; }
};

// A maximal stretch of indices with the same holders: an access (so the xarray has the PFN),
// a domain-stored area, both or neither (a hole: the PFN is in the user tier only).
struct Span {
  uint64_t first = 0;
  uint64_t last = 0;
  bool in_access = false;
  bool in_domain = false;
};

class Pages {
 public:
  Pages(UserMemory& mm, FaultInjector& faults, const IoptConfig& cfg, uint64_t uva_page,
        uint64_t npages, bool writable)
      : mm_(mm),
        faults_(faults),
        cfg_(cfg),
        uva_page_(uva_page),
        npages_(npages),
        writable_(writable) {}

  uint64_t uva_page() const { return uva_page_; }
  uint64_t npages() const { return npages_; }
  bool writable() const { return writable_; }
  uint64_t npinned() const { return npinned_; }
  const std::map<uint64_t, uint64_t>& xarray() const { return xarray_; }
  size_t access_ranges() const { return accesses_.size(); }

  // iopt_area_fill_domain: maps the area into one more domain, reading each PFN from where it
  // is stored now. On error the domain holds nothing of the area and no pin was added.
  int fill_domain(Area& area, IoDomain& domain);
  // iopt_area_fill_domains: a new area into every domain, each PFN read once for all of them;
  // afterwards the first domain stores the area. On error every domain is as before.
  int fill_domains(Area& area, const std::vector<IoDomain*>& domains);
  // Puts an area into the domain tier with `domain` as its storage, or takes it out.
  void store_in_domain(Area& area, IoDomain* domain);
  // iopt_area_unfill_domain: unmaps the area from `domain` (its storage, already out of the
  // domain tier), unpinning every page nothing else holds, run by run as it goes.
  void unfill_domain(Area& area, IoDomain& domain);

  // iopt_area_add_access / remove_access over [first, last]: the PFNs enter the xarray.
  int add_access(uint64_t first, uint64_t last);
  void remove_access(uint64_t first, uint64_t last);
  // The xarray's PFN at `index`, 0 when it has none.
  uint64_t xarray_pfn(uint64_t index) const;

 private:
  friend class PfnReader;
  struct AccessRange {
    uint64_t first = 0;
    uint64_t last = 0;
    unsigned users = 0;
  };

  std::vector<Span> spans(uint64_t first, uint64_t last) const;
  const Area* domain_area(uint64_t index) const;
  int batch_to_domain(const PfnBatch& batch, IoDomain& domain, const Area& area,
                      uint64_t first_index);
  void unmap_range(IoDomain& domain, const Area& area, uint64_t first, uint64_t end);
  int fill_xarray(uint64_t first, uint64_t last);
  void unfill_xarray(uint64_t first, uint64_t last);
  void unpin_holes(uint64_t first, uint64_t pfn, uint64_t n, bool access_holds);
  void unpin(uint64_t pfn);

  UserMemory& mm_;
  FaultInjector& faults_;
  const IoptConfig& cfg_;
  uint64_t uva_page_;
  uint64_t npages_;
  bool writable_;
  std::map<uint64_t, uint64_t> xarray_;    // index -> pfn
  std::vector<AccessRange> accesses_;      // access_itree
  std::vector<const Area*> domain_areas_;  // domains_itree
  uint64_t npinned_ = 0;
};

// struct pfn_reader: reads [first, last] of a pages object batch by batch, each PFN from the
// tier that holds it (xarray first, then a storage domain, else pinned from the user). The
// user pins it hands out in batches are the caller's to keep or give back (unpin_taken).
class PfnReader {
 public:
  PfnReader(Pages& pages, uint64_t first, uint64_t last);
  // Unpins pages pinned ahead that no batch took.
  ~PfnReader();
  PfnReader(const PfnReader&) = delete;
  PfnReader& operator=(const PfnReader&) = delete;

  // The next batch, [batch_first(), batch_end()); 0, or -ENOMEM / -EFAULT.
  int next();
  bool done() const { return batch_end_ == last_ + 1; }
  const PfnBatch& batch() const { return batch_; }
  uint64_t batch_first() const { return batch_first_; }
  uint64_t batch_end() const { return batch_end_; }
  // An error path, after unmapping them: unpins the user pins handed out from `from` on.
  void unpin_taken(uint64_t from);

 private:
  struct Taken {
    uint64_t index = 0;
    PfnRun run;
  };
  // Appends the span's PFNs from `tier` until the span ends or the batch is full; false when
  // full. May fail pinning (rc).
  bool fill_span(const Span& span, int& rc);
  bool from_user(uint64_t last, int& rc);
  void take(uint64_t index, uint64_t pfn);

  Pages& pages_;
  uint64_t last_;
  std::vector<Span> spans_;
  size_t span_ = 0;
  PfnBatch batch_;
  uint64_t batch_first_;
  uint64_t batch_end_;
  std::deque<uint64_t> ahead_;  // pinned from the user, from index batch_end_, not yet in a batch
  std::vector<Taken> taken_;
};

}  // namespace iommu::iopt
