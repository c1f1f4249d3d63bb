// The reference for iommufd-style page storage: what an IO address space must look like after
// every operation, computed from the operations alone (areas, pages objects, domains,
// accesses) and the user memory, with no knowledge of tiers, batches or readers. It decides
// each operation's errno under the caller contract and judges an observation of the
// implementation against four rules:
//   translation: every attached domain translates exactly the areas (each page to the PFN
//                behind its user page), and a domain that is not attached translates nothing;
//   pins:        a user page is pinned once per pages object that holds it (an area of it with
//                a domain attached, or an access over it) and not at all otherwise;
//   xarray:      the xarray holds exactly the pages accesses cover, each with the user's PFN;
//   map calls:   a new area, or a new domain, costs one map call per maximal PFN run.
// The bytes an access reads are the user's: expected_bytes reads them by user address.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "iopt/user_memory.h"

namespace iommu::iopt::ref {

// What the judge sees of the implementation.
struct Observed {
  // iommu_iova_to_phys of the domain the caller numbered `domain`; 0 when unmapped.
  std::function<uint64_t(unsigned domain, uint64_t iova)> iova_to_phys;
  // The xarray entries as (user address, pfn), in any order.
  std::vector<std::pair<uint64_t, uint64_t>> xarray;
};

class Model {
 public:
  // Areas must end at or below iova_limit.
  Model(const UserMemory& mm, uint64_t iova_limit) : mm_(mm), iova_limit_(iova_limit) {}

  // Each operation returns the errno the contract demands (0: must succeed, unless an
  // allocation fails) and applies itself only when `apply` is set, which a caller does once
  // the implementation succeeded.
  int map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot, bool apply);
  int copy(uint64_t dst_iova, uint64_t src_iova, uint64_t length, int prot, bool apply);
  int unmap(uint64_t iova, uint64_t length, bool apply);
  // A domain without 4 KiB pages, or translating less than the iova limit, cannot be attached.
  int attach(unsigned domain, uint64_t pgsize_bitmap, unsigned ias, bool apply);
  int detach(unsigned domain, bool apply);
  // The access is known by the id the implementation gave it.
  int add_access(uint64_t iova, uint64_t length, bool write, uint64_t id, bool apply);
  int remove_access(uint64_t id, bool apply);
  int access_rw(uint64_t id, uint64_t offset, uint64_t length, bool write) const;
  // The user's bytes behind [offset, offset + out.size()) of a live access.
  void expected_bytes(uint64_t id, uint64_t offset, std::span<uint8_t> out) const;

  // The map calls the last applied map_user, copy or attach must have made.
  uint64_t expected_map_calls() const { return expected_map_calls_; }
  bool empty() const { return areas_.empty() && accesses_.empty(); }
  size_t areas() const { return areas_.size(); }
  size_t pages_objects() const { return pages_.size(); }
  size_t accesses() const { return accesses_.size(); }

  // Every rule broken, one message each (at most a few per rule), empty when all hold.
  std::vector<std::string> check(const Observed& seen) const;

 private:
  struct PagesObj {
    uint64_t uva_page = 0;
    uint64_t npages = 0;
    bool writable = false;
  };
  struct Area {
    uint64_t npages = 0;
    unsigned pages = 0;
    uint64_t first = 0;  // index into the pages object
    int prot = 0;
  };
  struct Access {
    uint64_t iova = 0;
    uint64_t length = 0;
    bool write = false;
  };

  const Area* area_at(uint64_t iova, uint64_t* base) const;
  bool covered(uint64_t iova, uint64_t length, bool write, int& rc) const;
  bool free_range(uint64_t iova, uint64_t length) const;
  bool aligned_range(uint64_t iova, uint64_t length) const;
  uint64_t runs(unsigned pages, uint64_t first, uint64_t npages) const;
  uint64_t uva_of(uint64_t iova) const;                // of a mapped iova
  std::map<uint64_t, unsigned> expected_pins() const;  // uva page -> pins
  void check_translation(const Observed& seen, std::vector<std::string>& out) const;
  void check_pins(std::vector<std::string>& out) const;
  void check_xarray(const Observed& seen, std::vector<std::string>& out) const;

  const UserMemory& mm_;
  uint64_t iova_limit_;
  std::map<unsigned, PagesObj> pages_;
  unsigned next_pages_ = 1;
  std::map<uint64_t, Area> areas_;  // by iova
  std::set<unsigned> attached_;
  std::set<unsigned> known_;  // every domain an attach was tried on
  std::map<uint64_t, Access> accesses_;
  std::set<std::pair<uint64_t, uint64_t>> iova_seen_;  // [start, end) ever mapped
  uint64_t expected_map_calls_ = 0;
};

}  // namespace iommu::iopt::ref
