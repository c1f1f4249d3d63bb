#include "impl/domain.h"

#include <fmt/core.h>

#include <cerrno>
#include <stdexcept>

#include "base/bits.h"
#include "ref/pgsize.h"

namespace iommu::impl {
namespace {

// Where Linux would BUG_ON in iommu_pgsize: only a page table answering with a count that is
// not a whole number of pages gets the core here.
PgsizeChoice pgsize_or_throw(uint64_t bitmap, uint64_t iova, uint64_t paddr, uint64_t size) {
  if (auto c = iommu_pgsize(bitmap, iova, paddr, size)) return *c;
  throw std::logic_error(fmt::format(
      "iommu_pgsize has no page size for iova {:#x} paddr {:#x} size {:#x}: the page table "
      "reported a byte count that is not a whole number of its pages",
      iova, paddr, size));
}

}  // namespace

Domain::Domain(IoPgtableOps& ops, IotlbOps& driver, const ref::DomainConfig& cfg)
    : ops_(ops), driver_(driver), cfg_(cfg) {
  ref::validate(cfg_);
  if (driver_.caches_non_present() && !cfg_.np_caching) {
    throw std::invalid_argument(
        "the IOMMU driver caches non-present entries but the domain config has np_caching off: "
        "a device could fault on a fresh mapping the reference says is visible");
  }
}

int Domain::map_nosync(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  if (!is_aligned(iova | paddr | size, cfg_.min_pgsize())) return -EINVAL;
  const uint64_t orig_iova = iova, orig_size = size;
  int ret = 0;
  while (size != 0) {
    const PgsizeChoice c = pgsize_or_throw(cfg_.pgsize_bitmap, iova, paddr, size);
    uint64_t mapped = 0;
    ret = ops_.map_pages(iova, paddr, c.pgsize, c.count, prot, &mapped);
    if (mapped > size || (ret == 0 && mapped == 0)) {
      throw std::logic_error(fmt::format(
          "map_pages(iova {:#x}, pgsize {:#x}, pgcount {}) returned {} with *mapped = {:#x}: "
          "the core loop would {}",
          iova, c.pgsize, c.count, ret, mapped, mapped > size ? "underflow" : "never end"));
    }
    size -= mapped;
    if (ret != 0) break;
    iova += mapped;
    paddr += mapped;
  }
  if (ret != 0) unroll(orig_iova, orig_size - size);
  return ret;
}

int Domain::map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) {
  const int ret = map_nosync(iova, paddr, size, prot);
  if (ret == 0) iotlb_sync_map(iova, size);
  return ret;
}

int64_t Domain::map_sg(uint64_t iova, std::span<const ref::Segment> segments, int prot) {
  uint64_t mapped = 0;
  auto fail = [&](int err) {
    unroll(iova, mapped);
    return int64_t{err};
  };
  for (size_t i = 0; i < segments.size();) {
    if (segments[i].length == 0) return fail(-EINVAL);
    const uint64_t start = segments[i].paddr;
    uint64_t len = 0;
    while (i < segments.size() && segments[i].length != 0 && segments[i].paddr == start + len)
      len += segments[i++].length;
    if (const int ret = map_nosync(iova + mapped, start, len, prot)) return fail(ret);
    mapped += len;
  }
  iotlb_sync_map(iova, mapped);
  return static_cast<int64_t>(mapped);
}

uint64_t Domain::unmap_into(uint64_t iova, uint64_t size, IotlbGather& gather) {
  if (!is_aligned(iova | size, cfg_.min_pgsize())) return 0;
  uint64_t unmapped = 0;
  while (unmapped < size) {
    const PgsizeChoice c = pgsize_or_throw(cfg_.pgsize_bitmap, iova, iova, size - unmapped);
    const uint64_t n = ops_.unmap_pages(iova, c.pgsize, c.count, &gather);
    if (n == 0) break;
    iova += n;
    unmapped += n;
  }
  return unmapped;
}

uint64_t Domain::unmap(uint64_t iova, uint64_t size) {
  const bool lazy = cfg_.invalidation == ref::Invalidation::kLazy;
  IotlbGather gather;
  gather.queued = lazy;
  const uint64_t unmapped = unmap_into(iova, size, gather);
  if (!lazy) iotlb_sync(gather);
  return unmapped;
}

uint64_t Domain::unmap_fast(uint64_t iova, uint64_t size, IotlbGather& gather) {
  return unmap_into(iova, size, gather);
}

void Domain::unroll(uint64_t iova, uint64_t size) {
  IotlbGather gather;
  unmap_into(iova, size, gather);
  iotlb_sync(gather);
}

}  // namespace iommu::impl
