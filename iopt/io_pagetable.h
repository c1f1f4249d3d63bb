// An IO address space (struct io_pagetable): areas of IOVA, each a slice of a pages object,
// mirrored into every attached domain, and in-kernel accesses that read and write the user's
// pages through the xarray. Operations that allocate may fail with -ENOMEM at any allocation
// (the fault injector decides) and then leave everything as it was; destroying anything
// (unmap, detach, remove_access) never fails. See docs/IOPT.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "iopt/config.h"
#include "iopt/domain.h"
#include "iopt/pages.h"
#include "iopt/user_memory.h"

namespace iommu::iopt {

using AccessId = uint64_t;

struct IoptStats {
  uint64_t areas = 0;
  uint64_t pages_objects = 0;
  uint64_t access_ranges = 0;  // distinct ranges the pages objects track
  uint64_t accesses = 0;       // add_access handles not yet removed
  uint64_t xarray_entries = 0;
  uint64_t pinned = 0;     // pins the pages objects account for
  uint64_t map_calls = 0;  // iommu_map calls into domains, since construction
  uint64_t unmap_calls = 0;
};

// One xarray entry: a user page the storage holds for an access, and the PFN it recorded.
struct XarrayEntry {
  uint64_t uva = 0;
  uint64_t pfn = 0;
  bool operator==(const XarrayEntry&) const = default;
};

class IoPagetable {
 public:
  IoPagetable(UserMemory& mm, FaultInjector& faults, IoptConfig cfg = {});
  // Removes every access, unmaps every area and detaches every domain.
  ~IoPagetable();
  IoPagetable(const IoPagetable&) = delete;
  IoPagetable& operator=(const IoPagetable&) = delete;

  // IOMMU_IOAS_MAP: maps [uva, uva + length) at iova (a new pages object). -EINVAL for an
  // unaligned, empty or wrapping range, one beyond the iova limit, or prot without read/write,
  // -EEXIST when it overlaps an area, -EFAULT beyond the user memory, -ENOMEM.
  int map_user(uint64_t iova, uint64_t uva, uint64_t length, int prot);
  // IOMMU_IOAS_COPY: maps at dst_iova the pages behind [src_iova, src_iova + length), which
  // one area must cover (-ENOENT otherwise); the new area shares the source's pages object.
  // -EPERM for a writable copy of read-only pages.
  int copy(uint64_t dst_iova, uint64_t src_iova, uint64_t length, int prot);
  // IOMMU_IOAS_UNMAP: every area inside [iova, iova + length). -ENOENT when none is or one
  // crosses an end, -EBUSY when an access still holds one.
  int unmap(uint64_t iova, uint64_t length);

  // Fills the domain from the existing storage. -EEXIST when attached, -EINVAL when it has
  // no 4 KiB page size or does not translate up to the iova limit, -ENOMEM or the domain's map
  // error.
  int attach(IoDomain& domain);
  // -ENOENT when not attached.
  int detach(IoDomain& domain);

  // iommufd_access_pin_pages: [iova, iova + length) enters the xarray tier. -ENOENT unless
  // areas cover it without a gap, -EPERM for write on a read-only area, -ENOMEM.
  int add_access(uint64_t iova, uint64_t length, bool write, AccessId* id);
  int remove_access(AccessId id);
  // iommufd_access_rw through an access's pinned pages: bytes at `offset` into the access.
  // -ENOENT for an unknown access, -EINVAL beyond it, -EPERM writing a read-only access.
  int access_rw(AccessId id, uint64_t offset, std::span<uint8_t> data, bool write);

  IoptStats stats() const;
  std::vector<XarrayEntry> xarray_entries() const;
  const IoptConfig& config() const { return cfg_; }

 private:
  struct Counted;
  struct Piece {
    Area* area = nullptr;
    uint64_t first = 0;
    uint64_t last = 0;
  };
  struct Access {
    uint64_t iova = 0;
    uint64_t length = 0;
    bool write = false;
    std::vector<Piece> pieces;
  };

  bool range_ok(uint64_t iova, uint64_t length) const;
  bool iova_free(uint64_t iova, uint64_t length) const;
  Area* area_at(uint64_t iova);
  int insert_area(uint64_t iova, Pages* pages, uint64_t first_index, uint64_t npages, int prot);
  void unfill_domains(Area& area);
  void drop_area(uint64_t iova);
  std::vector<IoDomain*> domains() const;
  Counted* counted(IoDomain& domain) const;
  int pieces_of(uint64_t iova, uint64_t length, bool write, std::vector<Piece>& out);

  UserMemory& mm_;
  FaultInjector& faults_;
  IoptConfig cfg_;
  std::map<uint64_t, std::unique_ptr<Area>> areas_;  // by iova
  std::map<Pages*, std::unique_ptr<Pages>> pages_;
  std::map<Pages*, unsigned> pages_refs_;
  std::vector<std::unique_ptr<Counted>> domains_;
  std::map<AccessId, Access> accesses_;
  AccessId next_access_ = 1;
  uint64_t map_calls_ = 0;
  uint64_t unmap_calls_ = 0;
};

}  // namespace iommu::iopt
