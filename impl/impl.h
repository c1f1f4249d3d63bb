// Our implementation of the IOMMU page-table stack: the multi-format page-table engine and the
// Linux core layer that drives any page table. See docs/IMPL.md and docs/IMPL_CORE.md.
#pragma once

#include "impl/dma.h"           // the dma-iommu layer: IOVA allocation, strict or flush queue
#include "impl/domain.h"        // the core loops of iommu.c over any IoPgtableOps
#include "impl/flush_queue.h"   // per-CPU and single flush queues
#include "impl/gather.h"        // iommu_iotlb_gather rules
#include "impl/io_pgtable.h"    // the driver boundary: io_pgtable_ops, iommu_flush_ops
#include "impl/iommu_driver.h"  // the IOMMU driver's flush side: SMMUv3, VT-d, AMD commands
#include "impl/iova_alloc.h"    // IOVA allocator
#include "impl/mutant.h"        // the bug zoo's seeded bugs, chosen per instance by config
#include "impl/pgtable.h"       // the page-table engine for every hw format
