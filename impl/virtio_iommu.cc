#include "impl/virtio_iommu.h"

#include <fmt/core.h>

#include <cerrno>
#include <utility>

#include "base/bits.h"
#include "base/prot.h"

namespace iommu::impl {
namespace {

using hw::VirtioRequest;

uint32_t map_flags(int prot) {
  return (prot & IOMMU_READ ? hw::kVirtioMapRead : 0) |
         (prot & IOMMU_WRITE ? hw::kVirtioMapWrite : 0) |
         (prot & IOMMU_MMIO ? hw::kVirtioMapMmio : 0);
}

// Whole pgsize pages from `start` to the top of a `bits`-bit space.
uint64_t pages_below(uint64_t start, uint64_t pgsize, unsigned bits) {
  const uint64_t top = low_mask(bits);
  if (start > top) return 0;
  return (top - start - (pgsize - 1)) / pgsize + 1;
}

std::string describe(const VirtioRequest& r) {
  if (r.type == VirtioRequest::Type::kMap)
    return fmt::format("MAP [{:#x}, {:#x}] -> {:#x}", r.virt_start, r.virt_end, r.phys_start);
  return fmt::format("UNMAP [{:#x}, {:#x}]", r.virt_start, r.virt_end);
}

}  // namespace

VirtioIommu::VirtioIommu(hw::VirtioIommuDevice& device, const VirtioConfig& cfg)
    : device_(device), cfg_(cfg) {}

bool VirtioIommu::overlaps(uint64_t first, uint64_t last) const {
  auto next = mappings_.upper_bound(last);
  return next != mappings_.begin() && std::prev(next)->second.last >= first;
}

int VirtioIommu::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                           int prot, uint64_t* mapped) {
  if (!is_pow2(pgsize) || !(pgsize & cfg_.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova | paddr, pgsize))
    return -EINVAL;
  const uint64_t room =
      std::min(pages_below(iova, pgsize, cfg_.ias), pages_below(paddr, pgsize, cfg_.oas));
  if (room == 0) return -ERANGE;
  // Linux would send a MAP without permissions; the core's contract wants -EINVAL.
  if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;
  for (uint64_t i = 0; i < pgcount; i++) {
    if (i == room) return -ERANGE;
    const uint64_t first = iova + i * pgsize, last = first + (pgsize - 1);
    // Linux inserts overlapping mappings into its tree and the device refuses the queued MAP
    // unseen; the core's contract wants -EEXIST.
    if (overlaps(first, last)) return -EEXIST;
    mappings_[first] = {last, paddr + i * pgsize, prot};
    add_request({VirtioRequest::Type::kMap, first, last, paddr + i * pgsize, map_flags(prot)});
    if (mapped) *mapped += pgsize;
  }
  return 0;
}

uint64_t VirtioIommu::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount, IotlbGather*) {
  if (!is_pow2(pgsize) || !(pgsize & cfg_.pgsize_bitmap) || pgcount == 0 ||
      !is_aligned(iova, pgsize) || pages_below(iova, pgsize, cfg_.ias) == 0)
    return 0;
  const uint64_t end = iova + (std::min(pgcount, pages_below(iova, pgsize, 64)) * pgsize - 1);
  auto it = mappings_.upper_bound(iova);
  if (it == mappings_.begin() || std::prev(it)->second.last < iova) {
    if (it == mappings_.end() || it->first != iova) return 0;  // a hole at iova
  } else {
    --it;
  }
  // viommu_del_mappings, contiguous from iova: a mapping that reaches past the request goes
  // whole (UNMAP must not split it) and ends the walk, as does a hole.
  const uint64_t lo = it->first;
  uint64_t next = lo, removed = 0;
  while (it != mappings_.end() && it->first == next) {
    const uint64_t last = it->second.last;
    const bool cut = it->first < iova || last > end;
    removed += last - it->first + 1;
    it = mappings_.erase(it);
    if (cut || last >= end) break;
    next = last + 1;
  }
  add_request({VirtioRequest::Type::kUnmap, lo, lo + (removed - 1), 0, 0});
  return removed;
}

uint64_t VirtioIommu::iova_to_phys(uint64_t iova) {
  auto it = mappings_.upper_bound(iova);
  if (it == mappings_.begin()) return 0;
  --it;
  if (it->second.last < iova) return 0;
  return it->second.paddr + (iova - it->first);
}

void VirtioIommu::add_request(const VirtioRequest& req) {
  stats_.requests++;
  send(req);
  if (cfg_.requests == VirtioRequests::kSynchronous) sync();
}

void VirtioIommu::send(const VirtioRequest& req) {
  if (device_.add(req)) {
    in_flight_.push_back(req);
    return;
  }
  if (cfg_.bug == Mutant::kVirtioQueueFullDrops) return;
  stats_.forced_syncs++;
  sync();
  device_.add(req);
  in_flight_.push_back(req);
}

void VirtioIommu::sync() {
  if (in_flight_.empty()) return;  // virtqueue_kick_prepare: nothing new, no notification
  const std::vector<hw::VirtioStatus> status = device_.sync();
  stats_.syncs++;
  for (size_t i = 0; i < status.size() && i < in_flight_.size(); i++) {
    if (status[i] == hw::VirtioStatus::kOk) continue;
    refusals_.push_back(fmt::format("the device refused {} with {}", describe(in_flight_[i]),
                                    status[i] == hw::VirtioStatus::kRange ? "S_RANGE" : "S_INVAL"));
  }
  in_flight_.clear();
}

void VirtioIommu::iotlb_sync(IotlbGather& gather) {
  gather = IotlbGather{};
  if (cfg_.bug == Mutant::kVirtioUnmapUnsynced) return;
  sync();
}

void VirtioIommu::flush_iotlb_all() { sync(); }

void VirtioIommu::iotlb_sync_map(uint64_t, uint64_t) {
  if (cfg_.bug == Mutant::kVirtioNoSyncMap) return;
  sync();
}

std::vector<std::string> VirtioIommu::take_refusals() { return std::exchange(refusals_, {}); }

}  // namespace iommu::impl
