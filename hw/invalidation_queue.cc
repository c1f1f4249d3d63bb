#include "hw/invalidation_queue.h"

namespace iommu::hw {

InvalidationQueue::InvalidationQueue(Iotlb& iotlb, WalkCache& walk_cache)
    : iotlb_(iotlb), walk_cache_(walk_cache) {}

void InvalidationQueue::issue(const Command& cmd) {
  if (cmd.kind != CommandKind::kSync) {
    pending_.push_back(cmd);
    return;
  }
  for (const Command& c : pending_) {
    iotlb_.invalidate(c);
    walk_cache_.invalidate(c);
  }
  pending_.clear();
}

}  // namespace iommu::hw
