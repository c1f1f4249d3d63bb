// Speed of the reference model: it runs beside every checked operation, so it must sustain
// millions of operations per second on a 48-bit space with mixed page sizes.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "ref/ref.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;

struct Op {
  int kind;  // 0 map, 1 unmap, 2 translate
  uint64_t iova, paddr, size;
};

// Random ops over a 48-bit space: sizes from 4 KiB to 1 GiB, unmaps and translations aimed at
// earlier mappings so most of them hit.
std::vector<Op> make_ops(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Op> ops;
  std::vector<uint64_t> live;
  const uint64_t sizes[] = {K4, 16 * K4, 256 * K4, M2, 4 * M2, G1};
  for (size_t i = 0; i < n; ++i) {
    const int kind = static_cast<int>(rng() % 3);
    const uint64_t size = sizes[rng() % 6];
    uint64_t iova = (rng() & low_mask(47)) & ~(size - 1);
    if (kind != 0 && !live.empty()) iova = live[rng() % live.size()];
    const uint64_t paddr = (rng() & low_mask(47)) & ~(size - 1);
    ops.push_back({kind, iova, paddr, size});
    if (kind == 0) live.push_back(iova);
    if (live.size() > 4096) live[rng() % live.size()] = live.back(), live.pop_back();
  }
  return ops;
}

void BM_RefRandomOps(benchmark::State& state) {
  const auto ops = make_ops(static_cast<size_t>(state.range(0)), 42);
  const DomainConfig cfg{K4 | M2 | G1, 48, 48, PartialUnmap::kSplit, false, Invalidation::kStrict};
  for (auto _ : state) {
    RefDomain d(cfg);
    uint64_t sink = 0;
    for (const Op& op : ops) {
      if (op.kind == 0) sink += static_cast<uint64_t>(d.map(op.iova, op.paddr, op.size, IOMMU_READ));
      else if (op.kind == 1) sink += d.unmap(op.iova, op.size);
      else sink += d.iova_to_phys(op.iova + 0x123);
    }
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RefRandomOps)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace iommu::ref

BENCHMARK_MAIN();
