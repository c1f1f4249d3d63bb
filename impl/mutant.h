// Seeded bugs for the bug zoo (`iommucheck mutants`, conform/mutants.h): each value turns one
// real Linux bug (../shared/design/BUGS.md) or bug class back on inside impl/, at run time, so
// one build serves every mutant. The bug is chosen per instance: each component reads it from
// its own configuration (PgtableConfig, IommuDriverConfig, VirtioConfig, DmaConfig,
// FlushQueueConfig: a `bug` field, kNone unless a campaign of the zoo sets it) and ignores
// the bugs that are not its own, so a campaign can hand one bug to everything it builds.
#pragma once

namespace iommu::impl {

enum class Mutant {
  kNone,
  kConcatPgdEntriesLeft,  // BUGS 1: entries left in a concatenated stage-2 PGD miscounted
  kIovaToPhysGranuleMask,  // BUGS 2: iova_to_phys masks a block's offset with the granule
  kSplitLost,              // BUGS 4: a block split that does not happen, reported as done
  kUnmapEmptyErrno,        // BUGS 5: unmap of an empty entry returns -EINVAL through size_t
  kNoFlushWalk,            // a table freed without tlb_flush_walk
  kSkipLastAddPage,        // tlb_add_page skipped for the last leaf of a run
  kGatherDropsDisjoint,    // a disjoint range replaces the gather instead of syncing it first
  kBoundaryOffByOne,       // unmap leaves the last entry of a table when the run crosses it
  kUnmapOverrunsCutLeaf,   // unmap clears whole the leaf where the request ends inside it
  kWritableReadOnly,       // read-only mappings written writable
  kNoEexist,               // a map over a live leaf overwrites it instead of -EEXIST
  kV7sSingleReplica,       // a v7s 64K/16M leaf written as 1 entry instead of 16
  kLeakEmptyTable,         // an emptied table unlinked but never freed
  kFreeWithoutUnlink,      // an emptied table freed while its parent still points to it
  kWholeGathersRequest,    // a whole-leaf unmap gathers only the requested page, not the leaf
  kSyncMapNothing,         // iotlb_sync_map sends nothing under non-present caching
  kVtdWalkLeafOnly,        // VT-d: a walk flush sent with IH=1 (paging-structure caches kept)
  kAmdWalkNoPde,           // AMD-Vi: a walk flush sent with PDE=0 (page directory cache kept)
  kVirtioNoSyncMap,        // virtio: iotlb_sync_map returns without pushing the queued MAPs
  kVirtioUnmapUnsynced,    // virtio: iotlb_sync returns before the queued UNMAP completes
  kVirtioQueueFullDrops,   // virtio: a request meeting a full queue dropped, no forced sync
  // A missing table installed by a plain store after the emptiness check, not a
  // compare-exchange: two mappers of neighbouring ranges both install one, and the first's
  // table (and its leaves) is lost. Only concurrent campaigns reach it, so it is not in the
  // serial zoo (conform/mutants.cc); tests/conform/concurrent_test.cc kills it.
  kRacyTableInstall,
  // The DMA layer's zoo (conform/dma_trace.cc, `mutants --driver-source dma`):
  kDmaFreeUnflushed,    // the flush queue frees an entry no finished flush started after
  kDmaQueueForgets,     // a full ring drops its oldest entry instead of flushing
  kDmaTimerNeverFires,  // the flush-queue timer never fires
  kDmaStrictNoSync,     // a strict dma_unmap skips iotlb_sync
};

}  // namespace iommu::impl
