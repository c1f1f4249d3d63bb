// `virtio` and `virtio-sync`: the virtio-iommu guest driver (impl/virtio_iommu.h) and its
// device (hw/virtio_iommu.h) as a driver under test. The checker runs the core over it, sends
// the core's syncs to it and probes device accesses on the device's mapping tree.
// docs/VIRTIO.md.
#pragma once

#include <optional>
#include <string_view>

#include "conform/checker.h"
#include "impl/virtio_iommu.h"

namespace iommu::conform {

// The request queue of the checked drivers: small, so that campaigns fill it.
inline constexpr size_t kVirtioQueueSize = 16;

// "virtio" (queued requests, the seed) or "virtio-sync" (every request synchronous); nullopt
// for any other name.
std::optional<impl::VirtioRequests> virtio_requests(std::string_view name);

DriverSource virtio_driver_source(impl::VirtioRequests requests,
                                  size_t queue_size = kVirtioQueueSize);

}  // namespace iommu::conform
