#include "conform/mutants.h"

#include "conform/impl_driver.h"
#include "conform/virtio_driver.h"

namespace iommu::conform {
namespace {

using impl::Mutant;
constexpr auto kHostile = CallerMode::kHostile;
constexpr auto kWhole = ref::PartialUnmap::kWhole;
constexpr auto kSplit = ref::PartialUnmap::kSplit;

constexpr MutantSpec kSpecs[] = {
    {Mutant::kConcatPgdEntriesLeft, "concat-pgd-entries-left",
     "BUGS 1: io-pgtable-arm counts entries left in a concatenated stage-2 PGD per table",
     "arm-64-lpae-s2-4k", 40},
    {Mutant::kIovaToPhysGranuleMask, "iova-to-phys-granule-mask",
     "BUGS 2: io-pgtable-arm iova_to_phys masks a block's offset with the granule",
     "arm-64-lpae-s1-4k"},
    {Mutant::kSplitLost, "split-lost",
     "BUGS 4: a lost block split on unmap reported as done", "arm-64-lpae-s1-4k", 0, kSplit},
    {Mutant::kUnmapEmptyErrno, "unmap-empty-errno",
     "BUGS 5: unmap of an empty entry returns -EINVAL through size_t", "arm-64-lpae-s1-4k", 0,
     kSplit, kHostile},
    {Mutant::kNoFlushWalk, "no-flush-walk", "a table freed without tlb_flush_walk",
     "arm-64-lpae-s1-4k"},
    {Mutant::kSkipLastAddPage, "skip-last-add-page",
     "tlb_add_page skipped for the last leaf of a run", "arm-64-lpae-s1-16k"},
    {Mutant::kGatherDropsDisjoint, "gather-drops-disjoint",
     "a gather merge that drops a disjoint range instead of syncing it", "arm-64-lpae-s1-4k"},
    {Mutant::kBoundaryOffByOne, "boundary-off-by-one",
     "off by one in pgcount where an unmap run crosses a table boundary", "arm-64-lpae-s2-64k"},
    {Mutant::kUnmapOverrunsCutLeaf, "unmap-overruns-cut-leaf",
     "an unmap_pages run of small pages over blocks clears whole the block it ends inside",
     "arm-64-lpae-s1-4k", 0, kSplit},
    {Mutant::kWritableReadOnly, "writable-read-only",
     "a read-only mapping written without AP[2] / NO_WRITE", "apple-dart2"},
    {Mutant::kNoEexist, "no-eexist", "the -EEXIST check removed: a live leaf overwritten",
     "arm-mali-lpae", 0, kSplit, kHostile},
    {Mutant::kV7sSingleReplica, "v7s-single-replica",
     "a v7s 64K/16M leaf written as 1 entry instead of 16", "arm-v7s"},
    {Mutant::kLeakEmptyTable, "leak-empty-table", "an emptied table unlinked but never freed",
     "arm-32-lpae-s1", 0, kWhole},
    {Mutant::kFreeWithoutUnlink, "free-without-unlink",
     "an emptied table freed while its parent still points to it", "apple-dart"},
    {Mutant::kWholeGathersRequest, "whole-gathers-request",
     "a whole-leaf unmap (AMD, VT-d style) that gathers the requested page, not the leaf it "
     "removed", "arm-64-lpae-s1-4k", 0, kWhole, kHostile},
    {Mutant::kSyncMapNothing, "sync-map-nothing",
     "iotlb_sync_map sends nothing: a non-present entry cached by AMD NpCache hides the new "
     "mapping", "arm-64-lpae-s1-4k", 0, kSplit, CallerMode::kContract, IommuKind::kAmd,
     ref::Invalidation::kStrict, true},
    {Mutant::kVtdWalkLeafOnly, "vtd-walk-leaf-only",
     "VT-d: a walk flush sent with IH=1, so the paging-structure caches keep a freed table",
     "arm-64-lpae-s2-4k", 0, kSplit, CallerMode::kContract, IommuKind::kVtd,
     ref::Invalidation::kLazy},
    {Mutant::kAmdWalkNoPde, "amd-walk-no-pde",
     "AMD-Vi: a walk flush sent with PDE=0, so the page directory cache keeps a freed table",
     "arm-32-lpae-s1", 0, kSplit, CallerMode::kContract, IommuKind::kAmd},
    {Mutant::kVirtioNoSyncMap, "virtio-no-sync-map",
     "virtio-iommu: iotlb_sync_map that does not push the queued MAP requests", "virtio"},
    {Mutant::kVirtioUnmapUnsynced, "virtio-unmap-unsynced",
     "virtio-iommu: iotlb_sync returns before the UNMAP completes, so the IOVA is free while "
     "the device still translates it", "virtio"},
    {Mutant::kVirtioQueueFullDrops, "virtio-queue-full-drops",
     "virtio-iommu: a request that meets a full queue is dropped instead of forcing a sync",
     "virtio"},
};

// The driver a spec runs on: an impl format, or virtio's queued requests.
DriverSource spec_source(const MutantSpec& spec) {
  if (auto requests = virtio_requests(spec.format)) return virtio_driver_source(*requests);
  return impl_driver_source(hw::FormatConfig{.name = std::string(spec.format), .ias = spec.ias},
                            spec.policy);
}

}  // namespace

std::span<const MutantSpec> mutant_specs() { return kSpecs; }

MutantKill mutant_kill(const CampaignReport& r) {
  if (!r.finding) return {.ops = r.ops, .seconds = r.seconds};
  return {.killed = true,
          .check = r.finding->violation.check,
          .violation = r.finding->minimized.message(),
          .trace_ops = r.finding->ops.size(),
          .ops = r.finding->found_after_ops,
          .seconds = r.finding->found_after_seconds};
}

MutantResult run_mutant(const MutantSpec& spec, double seconds, uint64_t seed) {
  DriverSource src = spec_source(spec);
  src.info.config.invalidation = spec.invalidation;
  src.info.config.np_caching = src.info.config.np_caching || spec.np_caching;
  const CampaignReport r = run_campaign(src, {.seed = seed,
                                              .seconds = seconds,
                                              .mode = spec.mode,
                                              .check = {.iommu = spec.iommu, .bug = spec.id},
                                              .minimize_tests = 300});
  MutantResult out;
  static_cast<MutantKill&>(out) = mutant_kill(r);
  out.spec = &spec;
  return out;
}

}  // namespace iommu::conform
