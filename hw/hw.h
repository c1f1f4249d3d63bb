// The hardware model: what a device sees. Table memory, descriptor formats and the walker,
// IOTLB and walk cache, invalidation commands with their real encodings. See docs/HARDWARE.md.
#pragma once

#include "hw/device.h"               // translate(iova, access) through the caches
#include "hw/dump.h"                 // every mapping of a table, `iommucheck decode`
#include "hw/format.h"               // descriptor formats as data: geometry + codec
#include "hw/invalidation.h"         // the command vocabulary a cache understands
#include "hw/invalidation_amd.h"     // AMD-Vi INVALIDATE_IOMMU_PAGES
#include "hw/invalidation_encode.h"  // (start, end, granule) -> wire commands
#include "hw/invalidation_queue.h"   // commands held until a sync
#include "hw/invalidation_riscv.h"   // RISC-V IOMMU IOTINVAL.VMA, IOFENCE.C
#include "hw/invalidation_smmu.h"    // Arm SMMUv3 TLBI commands
#include "hw/invalidation_vtd.h"     // VT-d page-selective invalidation
#include "hw/iotlb.h"                // leaf translations, adversarial/realistic/off
#include "hw/table_memory.h"         // simulated physical memory for table pages
#include "hw/translation.h"          // Leaf, Fault, Perms, Access
#include "hw/virtio_iommu.h"         // virtio-iommu: request queue + mapping tree
#include "hw/walk_cache.h"           // intermediate table descriptors
#include "hw/walker.h"               // iova -> leaf or fault, through real descriptors
