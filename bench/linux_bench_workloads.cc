#include "bench/linux_bench_workloads.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "base/prot.h"
#include "hw/invalidation.h"
#include "hw/table_memory.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"

namespace iommu::bench {
namespace {

constexpr uint64_t K4 = 0x1000, K16 = 0x4000, M2 = 0x200000, G1 = 0x40000000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;
// Buffers live here; a page right after each keeps its tables alive, as in a domain in use.
constexpr uint64_t kIova = 4 * G1;

class NoSink final : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

// One driver alone. Its tables sit above 4 GiB with a 64 KiB quarantine, as in
// impl_pgtable_bench.cc: freed tables come back while still in cache.
struct Rig {
  explicit Rig(const conform::DriverSource& source)
      : memory({.base = uint64_t{1} << 32,
                .limit = uint64_t{1} << 33,
                .quarantine = uint64_t{64} << 10}),
        env{memory, flush},
        driver(source.create(env)) {}

  // A driver that WARNed or misused its host did something else than the workload: no figure.
  void finish(benchmark::State& state) {
    std::vector<std::string> bad = env.warnings.take();
    for (std::string& m : env.host_errors.take()) bad.push_back(std::move(m));
    if (!bad.empty()) state.SkipWithError(("the driver reported: " + bad.front()).c_str());
  }

  // Table memory in use, wherever the driver keeps its tables.
  uint64_t table_bytes() const {
    if (auto* own = dynamic_cast<const OwnTableMemory*>(driver.get())) return own->table_bytes();
    return memory.live_bytes();
  }

  NoFlush flush;
  hw::TableMemory memory;
  conform::DriverEnv env;
  std::unique_ptr<conform::Driver> driver;
};

bool map_resident(benchmark::State& state, impl::IoPgtableOps& ops, uint64_t iova) {
  uint64_t mapped = 0;
  if (ops.map_pages(iova, 0, K4, 1, RW, &mapped) == 0) return true;
  state.SkipWithError("mapping the resident page failed");
  return false;
}

void fail(benchmark::State& state, std::string_view what, int ret, uint64_t mapped,
          uint64_t unmapped) {
  state.SkipWithError(
      fmt::format("{}: returned {}, mapped {:#x}, unmapped {:#x}", what, ret, mapped, unmapped)
          .c_str());
}

// map_pages calls from `iova` until the buffer is mapped, as iommu_map's loop makes them: a
// driver may stop at the end of a table (Linux's does: one leaf table per call) and report
// what it mapped. Bytes mapped; stops at an error or a call that maps nothing.
uint64_t map_all(impl::IoPgtableOps& ops, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                 int& ret) {
  uint64_t done = 0;
  const uint64_t bytes = pgsize * pgcount;
  while (done < bytes) {
    uint64_t mapped = 0;
    ret = ops.map_pages(iova + done, G1 + done, pgsize, (bytes - done) / pgsize, RW, &mapped);
    done += mapped;
    if (ret != 0 || mapped == 0) break;
  }
  return done;
}

// unmap_pages calls until the buffer is unmapped (iommu_unmap's loop); bytes unmapped.
uint64_t unmap_all(impl::IoPgtableOps& ops, uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                   impl::IotlbGather& gather) {
  uint64_t done = 0;
  const uint64_t bytes = pgsize * pgcount;
  while (done < bytes) {
    const uint64_t n = ops.unmap_pages(iova + done, pgsize, (bytes - done) / pgsize, &gather);
    if (n == 0) break;
    done += n;
  }
  return done;
}

// Map then unmap the buffer with as few calls as the driver takes: one each when it fits in
// one leaf table (impl takes any run in one call; Linux one leaf table's worth per call).
void map_unmap(benchmark::State& state, const conform::DriverSource& source, uint64_t pgsize,
               uint64_t pgcount) {
  Rig rig(source);
  impl::IoPgtableOps& ops = *rig.driver;
  const uint64_t bytes = pgsize * pgcount;
  if (!map_resident(state, ops, kIova + bytes)) return;
  impl::IotlbGather gather;
  for (auto _ : state) {
    int ret = 0;
    const uint64_t mapped = map_all(ops, kIova, pgsize, pgcount, ret);
    const uint64_t unmapped = unmap_all(ops, kIova, pgsize, pgcount, gather);
    if (ret != 0 || mapped != bytes || unmapped != bytes) {
      fail(state, "map_pages + unmap_pages", ret, mapped, unmapped);
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(pgcount));
  rig.finish(state);
}

// iommu_map_sg (impl::Domain, the same core loop over either page table) of 64 segments of
// 16K at discontiguous paddrs, 64 map_pages calls of 4 pages, then one iommu_unmap_fast of the
// 1 MiB (one unmap_pages of 256 pages) into a gather that is never synced.
void map_sg(benchmark::State& state, const conform::DriverSource& source) {
  Rig rig(source);
  NoSink sink;
  impl::IommuDriver iommu(sink, {});
  impl::Domain domain(*rig.driver, iommu, rig.driver->info().config);
  constexpr uint64_t kSegments = 64, kBytes = kSegments * K16;
  std::vector<ref::Segment> sg;
  for (uint64_t i = 0; i < kSegments; i++) sg.push_back({G1 + 2 * i * K16, K16});
  if (!map_resident(state, domain.ops(), kIova + kBytes)) return;
  impl::IotlbGather gather;
  for (auto _ : state) {
    const int64_t mapped = domain.map_sg(kIova, sg, RW);
    const uint64_t unmapped = domain.unmap_fast(kIova, kBytes, gather);
    if (mapped != static_cast<int64_t>(kBytes) || unmapped != kBytes) {
      fail(state, "map_sg + unmap", 0, static_cast<uint64_t>(mapped), unmapped);
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBytes / K4));
  rig.finish(state);
}

// iova_stress as in impl_pgtable_bench.cc: map a 4K page, unmap the one mapped 63 pages
// earlier, at increasing iovas through 16 GiB, exactly one cycle (4M pairs; Linux cycles
// through 16 TiB, but one 16 GiB cycle already needs 8192 leaf tables where none is freed).
// Time is per map+unmap pair; peak_table_bytes is the peak of the table memory in use.
constexpr uint64_t kStressSpan = uint64_t{16} << 30, kInflight = 64;

void iova_stress(benchmark::State& state, const conform::DriverSource& source) {
  Rig rig(source);
  impl::IoPgtableOps& ops = *rig.driver;
  impl::IotlbGather gather;
  uint64_t i = 0, peak = 0;
  for (auto _ : state) {
    uint64_t mapped = 0, unmapped = K4;
    const int ret = ops.map_pages((i * K4) % kStressSpan, G1 + (i % 4096) * K4, K4, 1, RW, &mapped);
    peak = std::max(peak, rig.table_bytes());
    if (i >= kInflight - 1)
      unmapped = ops.unmap_pages(((i - (kInflight - 1)) * K4) % kStressSpan, K4, 1, &gather);
    if (ret != 0 || mapped != K4 || unmapped != K4) {
      fail(state, fmt::format("pair {}", i), ret, mapped, unmapped);
      break;
    }
    i++;
  }
  state.counters["peak_table_bytes"] = static_cast<double>(peak);
  state.SetItemsProcessed(state.iterations());
  rig.finish(state);
}

}  // namespace

std::vector<Workload> comparison_workloads() {
  auto shape = [](uint64_t pgsize, uint64_t pgcount) {
    return [=](benchmark::State& s, const conform::DriverSource& d) {
      map_unmap(s, d, pgsize, pgcount);
    };
  };
  return {
      {"map_unmap/4K", shape(K4, 1)},
      {"map_unmap/256x4K", shape(K4, 256)},
      {"map_unmap/2M", shape(M2, 1)},
      {"map_unmap/1024x4K", shape(K4, 1024)},
      {"map_sg/64x16K", map_sg},
      {"iova_stress/inflight:64", iova_stress, static_cast<int64_t>(kStressSpan / K4)},
  };
}

void abi_overhead(benchmark::State& state, const conform::DriverSource& source, bool map,
                  uint64_t pgcount) {
  Rig rig(source);
  impl::IoPgtableOps& ops = *rig.driver;
  impl::IotlbGather gather;
  for (auto _ : state) {
    uint64_t mapped = 0;
    if (map) {
      benchmark::DoNotOptimize(ops.map_pages(kIova, G1, K4, pgcount, RW, &mapped));
    } else {
      benchmark::DoNotOptimize(ops.unmap_pages(kIova, K4, pgcount, &gather));
    }
  }
  rig.finish(state);
}

}  // namespace iommu::bench
