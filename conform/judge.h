// The checker's verdicts on what a driver's tables let the hardware do, against what the
// reference allows. Each returns nullopt when allowed, else a sentence naming what ref allowed
// and what the hardware did, for a violation report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hw/device.h"
#include "hw/format.h"
#include "hw/walker.h"
#include "ref/device_view.h"
#include "ref/leaf_map.h"

namespace iommu::conform {

using Verdict = std::optional<std::string>;

// What a correct descriptor of this format grants for Linux prot. A format cannot always say
// what prot says (LPAE stage 1 has no "no read", DART no execute-never): the judge holds a
// driver to what its format can express, never to less.
hw::Perms format_perms(const hw::Format& fmt, int prot);

hw::Access to_hw(const ref::DeviceAccess& access);

// A table walk without caches must show exactly the current mapping: the same output address
// and the permissions prot implies, or a translation fault where nothing is mapped.
Verdict judge_walk(const hw::Format& fmt, const std::optional<ref::LeafInfo>& expected,
                   uint64_t iova, const hw::WalkResult& walk);

// One device access through the caches: it may reach only an address some observable
// translation (current or stale) grants for this access, may fault only where the current
// mapping does not have to let it through, and may never read freed table memory or a
// malformed descriptor.
Verdict judge_access(const hw::Format& fmt, const ref::DeviceView& view, uint64_t iova,
                     const ref::DeviceAccess& access, const hw::AccessResult& result);

// One device access behind an IOMMU of the driver's own (virtio-iommu), which translated it to
// `reached` (nullopt: a fault). MAP flags say only read and write, so the access is judged as
// a privileged data access: an instruction fetch as a read.
Verdict judge_own_access(const ref::DeviceView& view, uint64_t iova,
                         const ref::DeviceAccess& access,
                         const std::optional<ref::Observation>& reached);

// Linux's iova_to_phys: paddr | offset, 0 when unmapped.
Verdict judge_iova_to_phys(const std::optional<ref::LeafInfo>& expected, uint64_t iova,
                           uint64_t got);

}  // namespace iommu::conform
