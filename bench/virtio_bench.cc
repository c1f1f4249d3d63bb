// virtio-iommu's synchronous requests against queued requests with iotlb_sync_map
// (docs/PERFORMANCE.md): an NVMe-like I/O maps a scatterlist of 4 KiB pages with map_sg and
// unmaps it (strict). Each sync of the request queue is a VM exit on real hardware; the
// benchmark counts them and measures the guest's own CPU time, and the modeled throughput
// adds a fixed cost per exit, so the ratio for any exit cost follows from one run.
#include <benchmark/benchmark.h>

#include <vector>

#include "base/bits.h"
#include "base/prot.h"
#include "base/segment.h"
#include "hw/virtio_iommu.h"
#include "impl/domain.h"
#include "impl/virtio_iommu.h"

namespace iommu::impl {
namespace {

constexpr uint64_t K4 = 0x1000;
constexpr uint64_t kBitmap = genmask(21, 12);
constexpr size_t kQueue = 256;  // QEMU's virtio-iommu request queue

void BM_VirtioIo(benchmark::State& state) {
  const auto requests = state.range(0) ? VirtioRequests::kQueued : VirtioRequests::kSynchronous;
  const uint64_t segs = state.range(1);
  hw::VirtioIommuDevice device(kQueue);
  VirtioIommu iommu(device, {requests, kBitmap, 48, 48});
  Domain domain(iommu, iommu,
                {kBitmap, 48, 48, ref::PartialUnmap::kWhole, requests == VirtioRequests::kQueued,
                 ref::Invalidation::kStrict});
  // Scattered pages: no two segments merge, so each is its own MAP.
  std::vector<Segment> sg;
  for (uint64_t i = 0; i < segs; i++) sg.push_back({0x100000000 + i * 3 * K4, K4});
  const uint64_t iova = 0x40000000;
  for (auto _ : state) {
    if (domain.map_sg(iova, sg, IOMMU_READ | IOMMU_WRITE) < 0) state.SkipWithError("map_sg");
    domain.unmap(iova, segs * K4);
  }
  const double ios = static_cast<double>(state.iterations());
  state.counters["exits_per_io"] = static_cast<double>(iommu.stats().syncs) / ios;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VirtioIo)->ArgNames({"queued", "segs"})->ArgsProduct({{0, 1}, {1, 2, 8, 32}});

}  // namespace
}  // namespace iommu::impl

BENCHMARK_MAIN();
