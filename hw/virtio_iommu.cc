#include "hw/virtio_iommu.h"

#include <stdexcept>

namespace iommu::hw {

VirtioIommuDevice::VirtioIommuDevice(size_t queue_size) : queue_size_(queue_size) {
  if (queue_size == 0) throw std::invalid_argument("a virtio-iommu request queue of size 0");
}

bool VirtioIommuDevice::add(const VirtioRequest& req) {
  if (queue_.size() >= queue_size_) return false;
  queue_.push_back(req);
  return true;
}

std::vector<VirtioStatus> VirtioIommuDevice::sync() {
  std::vector<VirtioStatus> status;
  status.reserve(queue_.size());
  for (const VirtioRequest& req : queue_)
    status.push_back(req.type == VirtioRequest::Type::kMap ? map(req) : unmap(req));
  stats_.requests += queue_.size();
  if (!queue_.empty()) stats_.syncs++;
  queue_.clear();
  return status;
}

// 5.13.6.5: a MAP over an existing mapping is refused with S_INVAL and changes nothing.
VirtioStatus VirtioIommuDevice::map(const VirtioRequest& req) {
  if (req.virt_end < req.virt_start) return VirtioStatus::kInval;
  auto next = tree_.upper_bound(req.virt_end);
  if (next != tree_.begin() && std::prev(next)->second.last >= req.virt_start)
    return VirtioStatus::kInval;
  tree_[req.virt_start] = {req.virt_start, req.virt_end, req.phys_start, req.flags};
  return VirtioStatus::kOk;
}

// 5.13.6.6: every mapping inside [virt_start, virt_end] goes; if the range would split one
// (cover it only partly), the request fails with S_RANGE and nothing goes.
VirtioStatus VirtioIommuDevice::unmap(const VirtioRequest& req) {
  if (req.virt_end < req.virt_start) return VirtioStatus::kInval;
  auto first = tree_.upper_bound(req.virt_start);
  if (first != tree_.begin() && std::prev(first)->second.last >= req.virt_start) --first;
  auto end = tree_.upper_bound(req.virt_end);
  for (auto it = first; it != end; ++it) {
    if (it->second.first < req.virt_start || it->second.last > req.virt_end)
      return VirtioStatus::kRange;
  }
  tree_.erase(first, end);
  return VirtioStatus::kOk;
}

std::optional<VirtioMapping> VirtioIommuDevice::lookup(uint64_t iova) const {
  auto it = tree_.upper_bound(iova);
  if (it == tree_.begin()) return std::nullopt;
  --it;
  if (it->second.last < iova) return std::nullopt;
  return it->second;
}

std::vector<VirtioMapping> VirtioIommuDevice::mappings() const {
  std::vector<VirtioMapping> out;
  out.reserve(tree_.size());
  for (const auto& [first, m] : tree_) out.push_back(m);
  return out;
}

std::vector<VirtioMapping> VirtioIommuDevice::mappings_in(uint64_t first, uint64_t last,
                                                          size_t max) const {
  std::vector<VirtioMapping> out;
  auto it = tree_.upper_bound(first);
  if (it != tree_.begin() && std::prev(it)->second.last >= first) --it;
  for (; it != tree_.end() && it->first <= last && out.size() < max; ++it)
    out.push_back(it->second);
  return out;
}

}  // namespace iommu::hw
