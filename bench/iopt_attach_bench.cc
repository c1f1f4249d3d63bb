// Attaching a second domain to a large iommufd-style address space (docs/PERFORMANCE.md):
// iopt/'s fill from the storage domain with one iommu_map per PFN run, against the same fill
// with each run's map split into one call per page, and the memory each storage tier takes.
//
// The address space is 1 GiB of user memory in 16 areas of 64 MiB, mapped while domain A is
// attached, so A is the storage. Each iteration attaches domain B (timed) and detaches it (not
// timed). Both domains are impl's engine on arm-64-lpae-s1-4k behind impl's core, as the
// checker creates `impl:` (empty tables freed). Two user memory layouts: 2 MiB runs of PFNs
// at 2 MiB-aligned addresses (hugepage-backed guest memory) and runs of 1 to 8 pages at
// scattered PFNs (fragmented memory).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "base/prot.h"
#include "bench/ratio_reporter.h"
#include "hw/invalidation.h"
#include "hw/table_memory.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"
#include "impl/pgtable.h"
#include "iopt/iopt.h"

namespace iommu::bench {
namespace {

using iopt::kPageShift;
using iopt::kPageSize;

constexpr uint64_t kAreas = 16;
constexpr uint64_t kAreaPages = uint64_t{64} << (20 - kPageShift);  // 64 MiB
constexpr uint64_t kPages = kAreas * kAreaPages;                    // 1 GiB
constexpr uint64_t kIova = uint64_t{1} << 30;
constexpr int kRw = IOMMU_READ | IOMMU_WRITE;

class DiscardSink : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

// Tables above 4 GiB with a 64 KiB quarantine, as in bench/impl_pgtable_bench.cc.
hw::TableMemory::Config bench_window() {
  return {.base = uint64_t{1} << 32, .limit = uint64_t{1} << 33, .quarantine = uint64_t{64} << 10};
}

// One attachable domain: impl's engine behind impl's core (iommu_map, iommu_unmap).
struct Domain {
  DiscardSink sink;
  hw::TableMemory memory{bench_window()};
  impl::IommuDriver flush{sink, {}};
  impl::Pgtable pgtable{{{"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kSplit, true}, memory, flush};
  impl::Domain core{pgtable, flush, pgtable.domain_config()};
  iopt::CoreDomain domain{core};
};

// What B does with the storage's iommu_map calls besides taking them whole:
// - kPerPage, the baseline: each becomes one call per page, as iopt's `iopt-map-per-page`
//   mutant makes them, but only for this domain, so that the storage domain A is the same in
//   both columns. On error it unmaps what this call mapped, as iommu_map does.
// - kDiscard: nothing is mapped, so the attach costs only reading the PFNs back from A and
//   batching them (the part of the fill that is the same in both columns).
enum class Fill { kRuns, kPerPage, kDiscard };
constexpr const char* kFillNames[] = {"runs", "per-page", "reads-only"};

class BaselineDomain : public iopt::IoDomain {
 public:
  BaselineDomain(iopt::IoDomain& inner, Fill fill) : inner_(inner), fill_(fill) {}
  int map(uint64_t iova, uint64_t paddr, uint64_t size, int prot) override {
    if (fill_ == Fill::kDiscard) return 0;
    for (uint64_t off = 0; off < size; off += kPageSize) {
      ++calls_;
      if (int rc = inner_.map(iova + off, paddr + off, kPageSize, prot)) {
        if (off) inner_.unmap(iova, off);
        return rc;
      }
    }
    return 0;
  }
  uint64_t unmap(uint64_t iova, uint64_t size) override {
    return fill_ == Fill::kDiscard ? size : inner_.unmap(iova, size);
  }
  uint64_t iova_to_phys(uint64_t iova) override {
    return fill_ == Fill::kDiscard ? 0 : inner_.iova_to_phys(iova);
  }
  uint64_t pgsize_bitmap() const override { return inner_.pgsize_bitmap(); }
  unsigned ias() const override { return inner_.ias(); }
  // iommu_map calls made into the inner domain.
  uint64_t calls() const { return calls_; }

 private:
  iopt::IoDomain& inner_;
  Fill fill_;
  uint64_t calls_ = 0;
};

enum class Layout { kHugeRuns, kScattered };
constexpr const char* kLayoutNames[] = {"2M-runs", "scattered-1..8"};

std::vector<iopt::PfnRun> layout(Layout l) {
  if (l == Layout::kScattered) return iopt::UserMemory::scattered_layout(kPages, 8, 1);
  // 2 MiB-aligned runs of 512 PFNs, 4 MiB apart, so that no two runs join.
  std::vector<iopt::PfnRun> runs;
  for (uint64_t i = 0; i < kPages / 512; ++i) runs.push_back({0x100000 + i * 1024, 512});
  return runs;
}

// The address space with domain A attached and every area mapped: A stores every PFN.
struct Space {
  explicit Space(Layout l) : mm(layout(l), faults), iopt(mm, faults) {}
  // Empty on success, else what failed.
  std::string setup() {
    if (int rc = iopt.attach(a.domain)) return fmt::format("attach A: {}", rc);
    for (uint64_t k = 0; k < kAreas; ++k) {
      const uint64_t off = k * kAreaPages * kPageSize;
      if (int rc = iopt.map_user(kIova + off, off, kAreaPages * kPageSize, kRw))
        return fmt::format("map_user of area {}: {}", k, rc);
    }
    return "";
  }

  iopt::FaultInjector faults;
  iopt::UserMemory mm;
  Domain a, b;
  iopt::IoPagetable iopt;  // last: it lets go of the domains before they go
};

// Whether B maps the first, a middle and the last page of the space to the user's PFNs: the
// fill being timed is one that works.
bool translates(Space& s) {
  for (uint64_t page : {uint64_t{0}, kPages / 2 + 3, kPages - 1}) {
    if (s.b.domain.iova_to_phys(kIova + page * kPageSize) != s.mm.pfn_of(page) << kPageShift)
      return false;
  }
  return true;
}

void attach_second(benchmark::State& state, Layout l, Fill fill) {
  Space s(l);
  if (std::string e = s.setup(); !e.empty()) return state.SkipWithError(e.c_str());
  BaselineDomain baseline(s.b.domain, fill);
  iopt::IoDomain& b = fill == Fill::kRuns ? static_cast<iopt::IoDomain&>(s.b.domain) : baseline;
  uint64_t runs = 0, calls = 0, table_bytes = 0;
  for (auto _ : state) {
    const uint64_t runs0 = s.iopt.stats().map_calls, calls0 = baseline.calls();
    if (int rc = s.iopt.attach(b))
      return state.SkipWithError(fmt::format("attach B: {}", rc).c_str());
    state.PauseTiming();
    if (fill != Fill::kDiscard && !translates(s)) {
      return state.SkipWithError("B does not translate the address space after attach");
    }
    runs = s.iopt.stats().map_calls - runs0;
    calls = fill == Fill::kRuns ? runs : baseline.calls() - calls0;
    table_bytes = s.b.memory.live_bytes();
    s.iopt.detach(b);
    state.ResumeTiming();
  }
  state.counters["runs"] = static_cast<double>(runs);        // the storage's iommu_map calls
  state.counters["map_calls"] = static_cast<double>(calls);  // the calls B's core received
  state.counters["B_table_KiB"] = static_cast<double>(table_bytes) / 1024;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kPages));
}

// Bytes glibc's malloc has handed out and not taken back.
uint64_t heap_bytes() { return mallinfo2().uordblks; }

// What each tier holds once A stores everything, B is attached and an access covers the whole
// space: table pages per domain, the xarray's entries and the heap they took, the pins.
void memory_per_tier(benchmark::State& state, Layout l) {
  for (auto _ : state) {
    Space s(l);
    if (std::string e = s.setup(); !e.empty()) return state.SkipWithError(e.c_str());
    state.counters["pinned_MiB"] =
        static_cast<double>(s.iopt.stats().pinned * kPageSize) / (1 << 20);
    state.counters["A_table_KiB"] = static_cast<double>(s.a.memory.live_bytes()) / 1024;
    state.counters["xarray_before_access"] = static_cast<double>(s.iopt.stats().xarray_entries);
    if (int rc = s.iopt.attach(s.b.domain))
      return state.SkipWithError(fmt::format("attach B: {}", rc).c_str());
    state.counters["B_table_KiB"] = static_cast<double>(s.b.memory.live_bytes()) / 1024;
    const uint64_t heap0 = heap_bytes();
    iopt::AccessId id = 0;
    if (int rc = s.iopt.add_access(kIova, kPages * kPageSize, false, &id))
      return state.SkipWithError(fmt::format("add_access: {}", rc).c_str());
    const uint64_t entries = s.iopt.stats().xarray_entries;
    state.counters["xarray_entries"] = static_cast<double>(entries);
    state.counters["xarray_heap_B/entry"] =
        static_cast<double>(heap_bytes() - heap0) / static_cast<double>(entries);
    state.counters["pins_after_access_MiB"] =
        static_cast<double>(s.iopt.stats().pinned * kPageSize) / (1 << 20);
  }
}

// The core throws where a page table misbehaves: the benchmark ends in that error.
template <class Fn>
auto guarded(Fn fn) {
  return [fn](benchmark::State& s) {
    try {
      fn(s);
    } catch (const std::exception& e) {
      s.SkipWithError(e.what());
    }
  };
}

void register_all(RatioReporter& reporter) {
  for (Layout l : {Layout::kHugeRuns, Layout::kScattered}) {
    const char* name = kLayoutNames[static_cast<int>(l)];
    const std::string workload = fmt::format("attach B to 1 GiB in {} areas, {}", kAreas, name);
    for (Fill fill : {Fill::kPerPage, Fill::kRuns, Fill::kDiscard}) {
      const char* column = kFillNames[static_cast<int>(fill)];
      const std::string bm = fmt::format("iopt_attach/{}/{}", name, column);
      benchmark::RegisterBenchmark(
          bm.c_str(), guarded([l, fill](benchmark::State& s) { attach_second(s, l, fill); }))
          ->Unit(benchmark::kNanosecond);
      // Reading alone is a part of both, not a third way to attach: a line of its own.
      reporter.expect(
          bm, fill == Fill::kDiscard ? workload + ": PFN reads and batches alone" : workload,
          column);
    }
    benchmark::RegisterBenchmark(fmt::format("iopt_memory/{}", name).c_str(),
                                 guarded([l](benchmark::State& s) { memory_per_tier(s, l); }))
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
}

int run_all(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter(
      "per-page",
      {.heading = "Per layout: CPU ns per attach of B, the median of the repetitions [fastest .. "
                  "slowest]; per-page/runs = the per-page median over the runs median [range "
                  "over the repetitions]",
       .ratio = "per-page/runs",
       .counters = {"runs", "map_calls", "B_table_KiB"}});
  register_all(reporter);
  return run_benchmarks(reporter);
}

}  // namespace
}  // namespace iommu::bench

int main(int argc, char** argv) { return iommu::bench::run_all(argc, argv); }
