// Strict unmapping against dma-iommu's per-CPU and single flush queues (docs/PERFORMANCE.md),
// on a map/unmap-heavy DMA workload behind an IOMMU whose every sync is a VM exit: impl's
// Dma, FlushQueue, Domain, IommuDriver and page-table engine as they are, with a sink that
// charges a simulated exit for each sync command the driver completes.
//
// Several CPUs are simulated on one thread, round robin: each keeps kDepth DMA buffers in
// flight (an NVMe queue) and, once full, unmaps its oldest buffer on its own CPU's queue
// before it maps the next. One iteration is kPairs map+unmap pairs. Its time is the thread's
// CPU time for them plus the syncs they completed times the exit cost, so the figure is the
// code's real cost and the exits' modelled cost, nothing else.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <time.h>

#include <cstdint>
#include <deque>
#include <exception>
#include <random>
#include <vector>

#include "base/prot.h"
#include "bench/ratio_reporter.h"
#include "hw/invalidation.h"
#include "hw/table_memory.h"
#include "impl/dma.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"
#include "impl/pgtable.h"

namespace iommu::bench {
namespace {

constexpr uint64_t kPairs = 1024;  // map+unmap pairs per iteration
// 256K pairs a repetition: 8 fills of the single queue, about 250 of the per-CPU rings.
constexpr benchmark::IterationCount kIterations = 256;
constexpr unsigned kCpus = 4;
constexpr size_t kDepth = 32;  // buffers in flight per CPU
constexpr int kRw = IOMMU_READ | IOMMU_WRITE;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// How an exit's cost is paid: added to the iteration's time (the figures), or spent on the
// spot as a busy-wait on the steady clock (a cross-check that the two agree; a spin on the
// thread's CPU clock overshoots by its own system call, about 1.8 us an exit here).
enum class ExitCost { kSimulated, kSpin };

// The device side of the IOMMU: each completed sync (CMD_SYNC, invalidation wait,
// COMPLETION_WAIT; one per driver call that sent anything) is a VM exit of `exit_ns`. It is
// also the flush queue's clock: the coarse monotonic clock (tick resolution, a load like
// Linux's jiffies rather than a clock read per poll) plus the simulated exits so far, so the
// timer sees the time the exits would have taken.
class VmExits : public hw::InvalidationSink, public impl::Clock {
 public:
  VmExits(uint64_t exit_ns, ExitCost cost) : exit_ns_(exit_ns), cost_(cost) {}
  void issue(const hw::Command& cmd) override {
    if (cmd.kind != hw::CommandKind::kSync) return;
    ++syncs_;
    if (cost_ == ExitCost::kSpin) {
      const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(exit_ns_);
      while (std::chrono::steady_clock::now() < end) {
      }
    }
  }
  std::chrono::milliseconds now() const override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const uint64_t ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 +
                        static_cast<uint64_t>(ts.tv_nsec) + simulated_ns();
    return std::chrono::milliseconds(ns / 1'000'000);
  }
  uint64_t syncs() const { return syncs_; }
  // The exit time not already spent as CPU time.
  uint64_t simulated_ns() const { return cost_ == ExitCost::kSimulated ? syncs_ * exit_ns_ : 0; }

 private:
  uint64_t exit_ns_;
  ExitCost cost_;
  uint64_t syncs_ = 0;
};

enum class Policy { kStrict, kPerCpu, kSingle };
constexpr const char* kPolicyNames[] = {"strict", "per-cpu-fq", "single-fq"};

// The IOMMU driver's flush side: SMMUv3 (a sync only to invalidate: one per strict unmap), or
// one that caches non-present entries (VT-d caching mode, as a guest's emulated intel-iommu:
// each map's iotlb_sync_map is a sync too).
enum class Iommu { kSmmuV3, kVtdCachingMode };
constexpr const char* kIommuNames[] = {"smmuv3", "vtd-cm"};

// Buffer sizes of an NVMe-ish mix, drawn in a fixed order.
struct Mix {
  const char* name;
  std::vector<uint64_t> sizes;  // equally likely
};
const Mix kMixes[] = {
    {"4K", {0x1000}},
    {"4K-128K", {0x1000, 0x1000, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000}},
};

// Tables above 4 GiB with a 64 KiB quarantine, as in bench/impl_pgtable_bench.cc.
hw::TableMemory::Config bench_window() {
  return {.base = uint64_t{1} << 32, .limit = uint64_t{1} << 33, .quarantine = uint64_t{64} << 10};
}

// One device's DMA stack on arm-64-lpae-s1-4k. Empty tables are kept, as io-pgtable-arm keeps
// them, so that every sync counted is one the flush policy (or the map) asks for, not a walk
// flush of impl's table freeing.
struct Stack {
  VmExits exits;
  hw::TableMemory memory{bench_window()};
  impl::IommuDriver driver;
  impl::Pgtable pgtable;
  impl::Domain domain;
  impl::Dma dma;

  Stack(Policy policy, Iommu iommu, uint64_t exit_ns, ExitCost cost)
      : exits(exit_ns, cost),
        driver(exits, {.style = iommu == Iommu::kSmmuV3 ? impl::IommuStyle::kSmmuV3
                                                        : impl::IommuStyle::kVtd,
                       .ctx = 1,
                       .np_caching = iommu == Iommu::kVtdCachingMode}),
        pgtable({{"arm-64-lpae-s1-4k"}, ref::PartialUnmap::kSplit, false}, memory, driver),
        domain(pgtable, driver, domain_config(pgtable, policy, iommu)),
        dma(domain, exits, dma_config(policy)) {}

  static ref::DomainConfig domain_config(const impl::Pgtable& pt, Policy policy, Iommu iommu) {
    ref::DomainConfig cfg = pt.domain_config();
    cfg.np_caching = iommu == Iommu::kVtdCachingMode;
    cfg.invalidation =
        policy == Policy::kStrict ? ref::Invalidation::kStrict : ref::Invalidation::kLazy;
    return cfg;
  }
  // A 32-bit DMA space: dma-iommu's first try for a PCI device.
  static impl::DmaConfig dma_config(Policy policy) {
    return {.flush_queue = {.style = policy == Policy::kSingle ? impl::FlushQueueStyle::kSingle
                                                               : impl::FlushQueueStyle::kPerCpu,
                            .cpus = kCpus},
            .dma_bits = 32};
  }
};

struct Buffer {
  uint64_t iova, size;
};

// The workload's state: the buffers each CPU has in flight and where the next op comes from.
class Workload {
 public:
  Workload(Stack& stack, const Mix& mix) : stack_(stack), mix_(mix), inflight_(kCpus) {}

  // One pair: the next CPU unmaps its oldest buffer once it has `kDepth`, then maps one.
  // False (with the reason) when a map fails.
  bool step(std::string& error) {
    const unsigned cpu = static_cast<unsigned>(n_++ % kCpus);
    std::deque<Buffer>& q = inflight_[cpu];
    if (q.size() == kDepth) {
      stack_.dma.dma_unmap(q.front().iova, q.front().size, cpu);
      q.pop_front();
    }
    const uint64_t size = mix_.sizes[rng_() % mix_.sizes.size()];
    const uint64_t paddr = (rng_() % (uint64_t{1} << 24)) << 12;  // anywhere in 64 GiB
    const impl::DmaMapping m = stack_.dma.dma_map(paddr, size, kRw);
    if (!m.ok()) {
      error = fmt::format("dma_map of {:#x} bytes failed: {}", size, m.err);
      return false;
    }
    q.push_back({m.iova, size});
    return true;
  }
  void drain() {
    for (unsigned cpu = 0; cpu < kCpus; ++cpu)
      for (const Buffer& b : inflight_[cpu]) stack_.dma.dma_unmap(b.iova, b.size, cpu);
    stack_.dma.flush_queue_now();
  }

 private:
  Stack& stack_;
  const Mix& mix_;
  std::vector<std::deque<Buffer>> inflight_;
  std::mt19937_64 rng_{1};
  uint64_t n_ = 0;
};

void run(benchmark::State& state, const Mix& mix, Iommu iommu, Policy policy, uint64_t exit_ns,
         ExitCost cost) {
  Stack stack(policy, iommu, exit_ns, cost);
  Workload w(stack, mix);
  std::string error;
  // Warm up past the first flush of the largest queue, so the timed pairs see steady state.
  for (uint64_t i = 0; i < 2 * 32768; ++i) {
    if (!w.step(error)) return state.SkipWithError(error.c_str());
  }
  const impl::IommuStats driver0 = stack.driver.stats();
  const impl::FlushQueueStats fq0 =
      stack.dma.flush_queue() ? stack.dma.flush_queue()->stats() : impl::FlushQueueStats{};
  for (auto _ : state) {
    const double cpu0 = thread_cpu_seconds();
    const uint64_t simulated0 = stack.exits.simulated_ns();
    for (uint64_t i = 0; i < kPairs; ++i) {
      if (!w.step(error)) return state.SkipWithError(error.c_str());
    }
    const double exits = static_cast<double>(stack.exits.simulated_ns() - simulated0) * 1e-9;
    state.SetIterationTime(thread_cpu_seconds() - cpu0 + exits);
  }
  const double pairs = static_cast<double>(state.iterations() * kPairs);
  const impl::IommuStats driver = stack.driver.stats();
  state.counters["syncs/pair"] = static_cast<double>(driver.syncs - driver0.syncs) / pairs;
  if (const impl::FlushQueue* fq = stack.dma.flush_queue()) {
    const impl::FlushQueueStats s = fq->stats();
    state.counters["fq_flushes/Mpair"] = static_cast<double>(s.flushes - fq0.flushes) / pairs * 1e6;
    state.counters["timer_flushes"] = static_cast<double>(s.timeout_flushes - fq0.timeout_flushes);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kPairs));
  w.drain();
  if (stack.dma.warnings()) state.SkipWithError("an unmap removed another size than was mapped");
}

void register_all(RatioReporter& reporter) {
  // A DMA layer that throws (an unmap it does not recognise) ends the benchmark in an error.
  auto add = [&reporter](const std::string& workload, const char* column, auto fn) {
    const std::string name = "dma/" + workload + "/" + column;
    benchmark::RegisterBenchmark(name.c_str(),
                                 [fn](benchmark::State& s) {
                                   try {
                                     fn(s);
                                   } catch (const std::exception& e) {
                                     s.SkipWithError(e.what());
                                   }
                                 })
        ->UseManualTime()
        ->Iterations(kIterations)
        ->Unit(benchmark::kNanosecond);
    reporter.expect(name, workload, column);
  };
  for (const Mix& mix : kMixes) {
    for (Iommu iommu : {Iommu::kSmmuV3, Iommu::kVtdCachingMode}) {
      for (uint64_t exit_ns : {0, 2000, 5000}) {
        const std::string workload = fmt::format("{}/{}/exit_ns:{}", mix.name,
                                                 kIommuNames[static_cast<int>(iommu)], exit_ns);
        for (Policy policy : {Policy::kStrict, Policy::kPerCpu, Policy::kSingle}) {
          const char* column = kPolicyNames[static_cast<int>(policy)];
          add(workload, column, [&mix, iommu, policy, exit_ns](benchmark::State& s) {
            run(s, mix, iommu, policy, exit_ns, ExitCost::kSimulated);
          });
        }
        // The cross-check: strict again, its exits spent as busy-waits.
        if (exit_ns == 0) continue;
        add(workload, "strict-spin", [&mix, iommu, exit_ns](benchmark::State& s) {
          run(s, mix, iommu, Policy::kStrict, exit_ns, ExitCost::kSpin);
        });
      }
    }
  }
}

int run_all(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter(
      "strict",
      {.heading = fmt::format(
           "Per workload (buffer sizes/IOMMU/exit cost; {} CPUs round robin, {} buffers in "
           "flight each): ns per {} map+unmap pairs (CPU time plus simulated exits), the median "
           "of the repetitions [fastest .. slowest]; throughput relative to strict = strict's "
           "median / the column's [range over the repetitions]",
           kCpus, kDepth, kPairs),
       .ratio = "throughput x strict",
       .real_time = true,
       .counters = {"syncs/pair", "fq_flushes/Mpair", "timer_flushes"}});
  register_all(reporter);
  return run_benchmarks(reporter);
}

}  // namespace
}  // namespace iommu::bench

int main(int argc, char** argv) { return iommu::bench::run_all(argc, argv); }
