// A command queue in front of the caches: invalidations take effect only when a later sync
// completes them (SMMUv3 CMD_SYNC, VT-d invalidation wait, AMD COMPLETION_WAIT), so a device
// may still hit the old entries in between, as on hardware.
#pragma once

#include <cstddef>
#include <vector>

#include "hw/invalidation.h"
#include "hw/iotlb.h"
#include "hw/walk_cache.h"

namespace iommu::hw {

class InvalidationQueue : public InvalidationSink {
 public:
  InvalidationQueue(Iotlb& iotlb, WalkCache& walk_cache);

  // Queues cmd; a sync applies everything queued before it, in order.
  void issue(const Command& cmd) override;

  size_t pending() const { return pending_.size(); }

 private:
  Iotlb& iotlb_;
  WalkCache& walk_cache_;
  std::vector<Command> pending_;
};

}  // namespace iommu::hw
