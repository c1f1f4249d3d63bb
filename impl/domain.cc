#include "impl/domain.h"

#include <fmt/core.h>

#include <cerrno>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::impl {

uint64_t iommu_pgsize(uint64_t pgsize_bitmap, uint64_t iova, uint64_t paddr, uint64_t size,
                      uint64_t* count) {
  const uint64_t addr_merge = paddr | iova;
  // The sizes the table has that are no larger than size, and to which both addresses align.
  uint64_t pgsizes = size == 0 ? 0 : pgsize_bitmap & genmask(fls64_idx(size), 0);
  if (addr_merge != 0) pgsizes &= genmask(ffs64_idx(addr_merge), 0);
  if (pgsizes == 0) {
    throw std::logic_error(fmt::format(
        "iommu_pgsize has no page size for iova {:#x} paddr {:#x} size {:#x}: the page table "
        "reported a byte count that is not a whole number of its pages",
        iova, paddr, size));
  }
  const unsigned pgsize_idx = fls64_idx(pgsizes);
  *count = size >> pgsize_idx;

  // A larger page is worth stopping for only if iova and paddr sit at the same offset in it,
  // and only if one fits between the boundary and the end of the request.
  const uint64_t larger = pgsize_bitmap & ~genmask(pgsize_idx, 0);
  if (larger == 0) return bit(pgsize_idx);
  const uint64_t pgsize_next = bit(ffs64_idx(larger));
  if (((iova ^ paddr) & (pgsize_next - 1)) != 0) return bit(pgsize_idx);
  const uint64_t to_boundary = pgsize_next - (addr_merge & (pgsize_next - 1));
  uint64_t past_next = 0;
  if (!__builtin_add_overflow(to_boundary, pgsize_next, &past_next) && past_next <= size)
    *count = to_boundary >> pgsize_idx;
  return bit(pgsize_idx);
}

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
    uint64_t count = 0;
    const uint64_t pgsize = iommu_pgsize(cfg_.pgsize_bitmap, iova, paddr, size, &count);
    uint64_t mapped = 0;
    ret = ops_.map_pages(iova, paddr, pgsize, count, prot, &mapped);
    if (mapped > size || (ret == 0 && mapped == 0)) {
      throw std::logic_error(fmt::format(
          "map_pages(iova {:#x}, pgsize {:#x}, pgcount {}) returned {} with *mapped = {:#x}: "
          "the core loop would {}",
          iova, pgsize, count, ret, mapped, mapped > size ? "underflow" : "never end"));
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

// As iommu_map_sg: an entry that does not continue the run at its end closes the run, which
// is mapped at once; the last run is mapped after the loop.
int64_t Domain::map_sg(uint64_t iova, std::span<const Segment> sgl, int prot) {
  uint64_t start = 0, len = 0, mapped = 0;
  auto map_run = [&]() -> int {
    if (len == 0) return 0;
    const int ret = map_nosync(iova + mapped, start, len, prot);
    if (ret == 0) mapped += len;
    len = 0;
    return ret;
  };
  auto unroll_all = [&](int err) {
    unroll(iova, mapped);
    return int64_t{err};
  };
  for (const Segment& sg : sgl) {
    if (len != 0 && sg.paddr != start + len) {
      if (const int ret = map_run()) return unroll_all(ret);
    }
    if (sg.length == 0) {
      const int ret = map_run();
      return unroll_all(ret != 0 ? ret : -EINVAL);
    }
    if (len == 0) start = sg.paddr;
    len += sg.length;
  }
  if (const int ret = map_run()) return unroll_all(ret);
  iotlb_sync_map(iova, mapped);
  return static_cast<int64_t>(mapped);
}

uint64_t Domain::unmap_into(uint64_t iova, uint64_t size, IotlbGather& gather) {
  if (!is_aligned(iova | size, cfg_.min_pgsize())) return 0;
  uint64_t unmapped = 0;
  while (unmapped < size) {
    uint64_t count = 0;
    const uint64_t pgsize = iommu_pgsize(cfg_.pgsize_bitmap, iova, iova, size - unmapped, &count);
    const uint64_t n = ops_.unmap_pages(iova, pgsize, count, &gather);
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
