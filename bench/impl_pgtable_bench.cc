// Speed of the page-table engine (docs/PERFORMANCE.md): multi-page map/unmap against one page
// per call, iova_stress (table memory with and without freeing empty tables), and two threads
// on disjoint ranges. A no-op FlushOps, so the figures are the engine's own cost.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "base/prot.h"
#include "hw/table_memory.h"
#include "impl/pgtable.h"

namespace iommu::impl {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

class NoFlush : public FlushOps {
 public:
  void tlb_flush_all() override {}
  void tlb_flush_walk(uint64_t, uint64_t, uint64_t) override {}
  void tlb_add_page(IotlbGather&, uint64_t, uint64_t) override {}
};

// Tables above 4 GiB, room for 4 GiB of them; freed tables wait in a 64 KiB quarantine, then
// are reused while still in cache (a page allocator's hot list rather than the checker's
// fresh-memory-first default, which page-faults on every new table).
hw::TableMemory::Config bench_window() {
  return {.base = uint64_t{1} << 32, .limit = uint64_t{1} << 33, .quarantine = uint64_t{64} << 10};
}

struct Engine {
  explicit Engine(bool free_empty)
      : mem(bench_window()),
        pt({{"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kSplit, free_empty}, mem, flush) {}
  NoFlush flush;
  hw::TableMemory mem;
  Pgtable pt;
};

// One buffer shape: `count` pages of `pgsize` at an iova aligned to its size.
struct Shape {
  uint64_t pgsize, count;
};
constexpr Shape kShapes[] = {{K4, 1}, {K4, 256}, {M2, 1}, {G1, 1}, {K4, 1024}, {M2, 2}};

// Map then unmap the buffer. A page mapped right after it keeps its tables alive, as in a
// domain in use, so that the loop measures mapping rather than table allocation (only the
// 4 MiB buffer of 4K pages fills, and so empties and frees, two leaf tables of its own).
void BM_MapUnmap(benchmark::State& state) {
  const Shape s = kShapes[state.range(0)];
  const bool one_per_call = state.range(1);
  Engine e(true);
  const uint64_t iova = 4 * G1;
  if (e.pt.map_pages(iova + s.count * s.pgsize, 0, K4, 1, RW, nullptr) != 0)
    state.SkipWithError("setup map failed");
  IotlbGather gather;
  for (auto _ : state) {
    if (one_per_call) {
      for (uint64_t i = 0; i < s.count; i++)
        e.pt.map_pages(iova + i * s.pgsize, G1 + i * s.pgsize, s.pgsize, 1, RW, nullptr);
      for (uint64_t i = 0; i < s.count; i++)
        e.pt.unmap_pages(iova + i * s.pgsize, s.pgsize, 1, &gather);
    } else {
      e.pt.map_pages(iova, G1, s.pgsize, s.count, RW, nullptr);
      e.pt.unmap_pages(iova, s.pgsize, s.count, &gather);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.count));
  state.SetLabel(one_per_call ? "one page per call" : "one call");
}
BENCHMARK(BM_MapUnmap)->ArgNames({"shape", "per_page"})->ArgsProduct({{0, 1, 2, 3, 4, 5}, {0, 1}});

// iova_stress: map one 4K page, unmap the one mapped `inflight` pages earlier, at increasing
// iovas through a 16 GiB space, round and round (Linux cycles 4K pages through 16 TiB; 16 GiB
// is 4M pages, about a second and a half a cycle here, and still 8192 leaf tables if none is
// freed).
// Counters: peak live table bytes and bytes at the end.
void BM_IovaStress(benchmark::State& state) {
  const bool free_empty = state.range(0);
  const uint64_t inflight = static_cast<uint64_t>(state.range(1));
  constexpr uint64_t kSpan = uint64_t{16} << 30;
  Engine e(free_empty);
  IotlbGather gather;
  uint64_t i = 0, peak = 0;
  for (auto _ : state) {
    const uint64_t iova = (i * K4) % kSpan;
    e.pt.map_pages(iova, G1 + (i % 4096) * K4, K4, 1, RW, nullptr);
    peak = std::max(peak, e.mem.live_bytes());
    if (i >= inflight - 1) e.pt.unmap_pages(((i - (inflight - 1)) * K4) % kSpan, K4, 1, &gather);
    i++;
  }
  state.counters["peak_table_bytes"] = static_cast<double>(peak);
  state.counters["iova_cycles"] = static_cast<double>(i) * K4 / kSpan;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IovaStress)
    ->ArgNames({"free_empty", "inflight"})
    ->ArgsProduct({{0, 1}, {64, 1}})
    ->MinTime(4.0);

// Two threads mapping and unmapping runs of 16 pages, each in its own 2M region under one
// shared level-2 table, against one thread doing the same. A resident page per region keeps
// its leaf table, so the figure is the scaling of map/unmap itself.
std::unique_ptr<Engine> shared_engine;

void BM_Concurrent(benchmark::State& state) {
  const uint64_t base = 8 * G1 + static_cast<uint64_t>(state.thread_index()) * M2;
  if (state.thread_index() == 0) {
    shared_engine = std::make_unique<Engine>(true);
    for (uint64_t t = 0; t < 2; t++)
      shared_engine->pt.map_pages(8 * G1 + t * M2, 0, K4, 1, RW, nullptr);
  }
  IotlbGather gather;
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t iova = base + K4 + (i++ % 31) * 16 * K4;
    shared_engine->pt.map_pages(iova, G1, K4, 16, RW, nullptr);
    shared_engine->pt.unmap_pages(iova, K4, 16, &gather);
  }
  state.SetItemsProcessed(state.iterations() * 16);
  if (state.thread_index() == 0) shared_engine.reset();
}
BENCHMARK(BM_Concurrent)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace iommu::impl

BENCHMARK_MAIN();
