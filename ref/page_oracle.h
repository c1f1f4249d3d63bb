// A deliberately naive second model of the core API: one entry per minimum page, every rule
// written out directly instead of as Linux's loops. It exists only to check RefDomain (in
// tests/ and `iommucheck selfcheck`), on small address spaces.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "ref/config.h"
#include "ref/device_view.h"
#include "ref/domain.h"
#include "ref/leaf_map.h"

namespace iommu::ref {

class PageOracle {
 public:
  explicit PageOracle(const DomainConfig& cfg);

  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  int map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot);
  void iotlb_sync_map(uint64_t iova, uint64_t size);
  int64_t map_sg(uint64_t iova, std::span<const Segment> segments, int prot);
  uint64_t unmap(uint64_t iova, uint64_t size);
  uint64_t unmap_fast(uint64_t iova, uint64_t size, GatherId gather);
  void iotlb_sync(GatherId gather);
  void flush_iotlb_all();

  uint64_t iova_to_phys(uint64_t iova) const;
  std::optional<LeafInfo> leaf_at(uint64_t iova) const;
  DeviceView device_view(uint64_t iova) const;
  size_t mapped_pages() const { return pages_.size(); }
  const DomainConfig& config() const { return cfg_; }

 private:
  struct Page {
    uint64_t paddr;
    int prot;
    uint64_t leaf_iova;
    uint64_t leaf_size;
    bool pending;
  };
  struct StalePage {
    uint64_t paddr;
    int prot;
    GatherId gather;
  };

  bool in_space(uint64_t addr, unsigned bits) const;
  int first_error(uint64_t iova, uint64_t paddr, uint64_t size, int prot) const;
  template <class F>
  void for_each_greedy_leaf(uint64_t iova, uint64_t paddr, uint64_t size, uint64_t below,
                            F&& f) const;
  void relabel(uint64_t iova, uint64_t paddr, uint64_t size, uint64_t below);
  void remove_page(uint64_t page, std::optional<GatherId> stale_gather);
  uint64_t unmap_as(uint64_t iova, uint64_t size, std::optional<GatherId> stale_gather);

  DomainConfig cfg_;
  uint64_t page_;  // minimum page size
  std::map<uint64_t, Page> pages_;
  std::multimap<uint64_t, StalePage> stale_;
};

}  // namespace iommu::ref
