// The workloads bench/linux_bench.cc runs on impl: and linux: drivers alike, each on one
// driver alone (no checker, no isolation): its own table memory, no-op flushes.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "conform/checker.h"

namespace iommu::bench {

// The flushes of a driver alone: none, so the figures are the page table's own cost.
class NoFlush final : public impl::FlushOps {
 public:
  void tlb_flush_all() override {}
  void tlb_flush_walk(uint64_t, uint64_t, uint64_t) override {}
  void tlb_add_page(impl::IotlbGather&, uint64_t, uint64_t) override {}
};

// A driver that keeps its tables outside the hw model's memory (impl::HostPgtable) reports
// their size itself.
class OwnTableMemory {
 public:
  virtual ~OwnTableMemory() = default;
  virtual uint64_t table_bytes() const = 0;
};

struct Workload {
  std::string name;  // "map_unmap/4K", "map_sg/64x16K", "iova_stress/inflight:64"
  std::function<void(benchmark::State&, const conform::DriverSource&)> run;
  // A fixed iteration count (iova_stress runs exactly one cycle of its span); 0: Google
  // Benchmark chooses.
  benchmark::IterationCount iterations = 0;
};

// Every workload the comparison runs, in report order.
std::vector<Workload> comparison_workloads();

// The plugin ABI's own cost: one map_pages (`map`) or unmap_pages call of `pgcount` 4K pages on
// a driver that does nothing but one host callback per page (bench/abi_noop_plugin.c).
void abi_overhead(benchmark::State& state, const conform::DriverSource& source, bool map,
                  uint64_t pgcount);

}  // namespace iommu::bench
