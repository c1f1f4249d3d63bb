// impl:arm-64-lpae-s1-4k against linux:arm-64-lpae-s1-4k of the 6.12 and sid trees
// (docs/PERFORMANCE.md): the same workloads on each driver alone, in-process, with no-op
// flushes. The base column "impl" is the production engine (impl::HostPgtable: tables in
// ordinary memory); "impl-checked" is the same engine over the hw model's checked memory, as
// `check` runs it, and "impl-nofree" the production engine keeping empty tables, as Linux
// 6.12 does. Each Linux tree runs twice: as the checker runs it (coherent_walk = false, every
// PTE write's dma sync published to the hw model's memory through the host's write64) and
// as on a coherent IOMMU (a shim built with LXSHIM_BENCH_COHERENT_WALK: no syncs at all).
// The trees come from $IOMMUCHECK_KERNEL_6_12 / $IOMMUCHECK_KERNEL_SID, else the CMake cache
// variables of those names; a tree that is not configured is skipped with a message.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>

#include "base/prot.h"
#include "bench/linux_bench_workloads.h"
#include "bench/ratio_reporter.h"
#include "conform/impl_driver.h"
#include "conform/linux_build.h"
#include "conform/plugin.h"
#include "hw/table_memory.h"
#include "impl/pgtable.h"

namespace iommu::bench {
namespace {

constexpr const char* kFormat = "arm-64-lpae-s1-4k";

// A driver built on first use, so that a run filtered to some columns builds only theirs.
class LazySource {
 public:
  explicit LazySource(std::function<conform::DriverSource()> make) : make_(std::move(make)) {}
  // Throws what building threw, every time.
  const conform::DriverSource& get() {
    std::call_once(once_, [this] {
      try {
        source_ = make_();
      } catch (const std::exception& e) {
        error_ = e.what();
      }
    });
    if (!source_) throw std::runtime_error(error_);
    return *source_;
  }

 private:
  std::function<conform::DriverSource()> make_;
  std::once_flag once_;
  std::optional<conform::DriverSource> source_;
  std::string error_;
};

struct Column {
  std::string name;  // "impl", "linux-6.12", "linux-6.12-coherent"
  std::shared_ptr<LazySource> source;
};

conform::DriverSource plugin_source(const std::filesystem::path& path) {
  auto plugin = std::make_shared<const conform::Plugin>(path.string());
  return {plugin->info(), [plugin](conform::DriverEnv& env) { return plugin->create(env); }};
}

// impl::HostPgtable as a checker driver: nothing for a hw walk (its tables are host memory).
class HostDriver final : public conform::OpsDriver, public OwnTableMemory {
 public:
  HostDriver(conform::DriverInfo info, const impl::PgtableConfig& cfg, impl::FlushOps& flush)
      : info_(std::move(info)), pt_(cfg, flush) {}
  const conform::DriverInfo& info() const override { return info_; }
  std::vector<uint64_t> roots() const override { return {}; }
  uint64_t table_bytes() const override { return pt_.table_bytes(); }

 private:
  impl::IoPgtableOps& ops() override { return pt_; }
  conform::DriverInfo info_;
  impl::HostPgtable pt_;
};

conform::DriverSource host_source(bool free_empty_tables, const char* format = kFormat) {
  conform::DriverInfo info = conform::impl_driver_source(format).info;
  info.format = {};  // not walkable
  const impl::PgtableConfig cfg{.format = {format}, .free_empty_tables = free_empty_tables};
  return {info, [info, cfg](conform::DriverEnv& env) -> std::unique_ptr<conform::Driver> {
            return std::make_unique<HostDriver>(info, cfg, env.flush);
          }};
}

// The column's name is a claim: the device's memory (the hw model's) sees a mapped page's
// table entry when Linux syncs, and nothing when it walks coherently.
void check_publication(const conform::DriverSource& source, bool coherent) {
  NoFlush flush;
  hw::TableMemory memory;
  conform::DriverEnv env{memory, flush};
  const std::unique_ptr<conform::Driver> driver = source.create(env);
  uint64_t mapped = 0;
  if (driver->map_pages(0x1000, 0x1000, 0x1000, 1, IOMMU_READ, &mapped) != 0)
    throw std::runtime_error("mapping one page failed");
  const bool published = memory.read64(driver->roots().at(0)) != 0;
  if (published == coherent) {
    throw std::runtime_error(fmt::format("the {} shim {} its table entries to the device",
                                         coherent ? "coherent" : "non-coherent",
                                         published ? "publishes" : "does not publish"));
  }
}

// The plugin of kFormat built from `dir`, with the shim as the checker runs it or coherent.
conform::DriverSource linux_source(const std::string& dir, bool coherent) {
  conform::LinuxBuildOptions options;
  if (coherent) options.extra_cflags = {"-DLXSHIM_BENCH_COHERENT_WALK"};
  const conform::LinuxBuild build = conform::build_linux_drivers(dir, options);
  auto it = build.plugins.find(kFormat);
  if (it == build.plugins.end()) {
    auto why = build.unavailable.find(kFormat);
    throw std::runtime_error(fmt::format("kernel {}: no {} plugin: {}", dir, kFormat,
                                         why == build.unavailable.end() ? "" : why->second));
  }
  conform::DriverSource source = plugin_source(it->second);
  check_publication(source, coherent);
  return source;
}

// "6.12" from the tree's Makefile, or `fallback` when it has none.
std::string tree_version(const std::filesystem::path& dir, const std::string& fallback) {
  std::ifstream makefile(dir / "Makefile");
  const std::regex field(R"(^(VERSION|PATCHLEVEL) = (\d+))");
  std::string line, version, patchlevel;
  std::smatch m;
  while (std::getline(makefile, line)) {
    if (!std::regex_search(line, m, field)) continue;
    (m[1] == "VERSION" ? version : patchlevel) = m[2];
  }
  return version.empty() || patchlevel.empty() ? fallback : version + "." + patchlevel;
}

// The tree's two columns, or none (saying why) when no tree is configured.
std::vector<Column> linux_columns(const std::string& key, const std::string& configured,
                                  const std::string& fallback_name) {
  const std::string var = "IOMMUCHECK_KERNEL_" + key;
  const char* env = std::getenv(var.c_str());
  const std::string dir = env && *env ? env : configured;
  if (dir.empty()) {
    fmt::print(stderr,
               "linux {}: no tree ({} is not set at run time or configure time): "
               "its benchmarks are skipped\n",
               fallback_name, var);
    return {};
  }
  const std::string label = "linux-" + tree_version(dir, fallback_name);
  fmt::print(stderr, "{}: {}\n", label, dir);
  std::vector<Column> out;
  for (bool coherent : {false, true}) {
    out.push_back({label + (coherent ? "-coherent" : ""),
                   std::make_shared<LazySource>([=] { return linux_source(dir, coherent); })});
  }
  return out;
}

std::vector<Column> all_columns() {
  std::vector<Column> columns{
      {"impl", std::make_shared<LazySource>([] { return host_source(true); })},
      {"impl-nofree", std::make_shared<LazySource>([] { return host_source(false); })},
      {"impl-checked",
       std::make_shared<LazySource>([] { return conform::impl_driver_source(kFormat); })}};
  for (Column& c : linux_columns("6_12", IOMMUCHECK_KERNEL_6_12, "6.12"))
    columns.push_back(std::move(c));
  for (Column& c : linux_columns("SID", IOMMUCHECK_KERNEL_SID, "sid"))
    columns.push_back(std::move(c));
  return columns;
}

// A benchmark whose driver did not build, or that threw, reports why instead of a figure.
template <class Run>
std::function<void(benchmark::State&)> guarded(std::shared_ptr<LazySource> source, Run run) {
  return [source, run](benchmark::State& s) {
    try {
      run(s, source->get());
    } catch (const std::exception& e) {
      s.SkipWithError(e.what());
    }
  };
}

void register_all(const std::vector<Column>& columns, RatioReporter& reporter) {
  for (const Workload& w : comparison_workloads()) {
    for (const Column& c : columns) {
      const std::string name = w.name + "/" + c.name;
      auto* b = benchmark::RegisterBenchmark(name.c_str(), guarded(c.source, w.run));
      b->Unit(benchmark::kNanosecond);
      if (w.iterations) b->Iterations(w.iterations);
      reporter.expect(name, w.name, c.name);
    }
  }
  // Issue 14's seed benchmark on Intel's own format: freeing empty tables against keeping them.
  for (const Workload& w : comparison_workloads()) {
    if (!w.name.starts_with("iova_stress")) continue;
    for (bool free_empty : {true, false}) {
      const std::string column = free_empty ? "impl" : "impl-nofree";
      const std::string name = "vtd-ss/" + w.name + "/" + column;
      auto source = std::make_shared<LazySource>([=] { return host_source(free_empty, "vtd-ss"); });
      benchmark::RegisterBenchmark(name.c_str(), guarded(source, w.run))
          ->Unit(benchmark::kNanosecond)
          ->Iterations(w.iterations);
      reporter.expect(name, "vtd-ss/" + w.name, column);
    }
  }
  auto noop =
      std::make_shared<LazySource>([] { return plugin_source(IOMMUCHECK_BENCH_NOOP_PLUGIN); });
  for (bool map : {true, false}) {
    for (uint64_t pgcount : {0, 256}) {
      const std::string call = map ? "map_pages" : "unmap_pages";
      const std::string name = fmt::format("abi_overhead/{}/pgcount:{}", call, pgcount);
      reporter.expect(name, "abi_overhead: a plugin doing nothing (bench/abi_noop_plugin.c)",
                      fmt::format("{} x{}", call, pgcount));
      auto run = [map, pgcount](benchmark::State& s, const conform::DriverSource& d) {
        abi_overhead(s, d, map, pgcount);
      };
      benchmark::RegisterBenchmark(name.c_str(), guarded(noop, run))->Unit(benchmark::kNanosecond);
    }
  }
}

int run(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter("impl");
  register_all(all_columns(), reporter);
  return run_benchmarks(reporter);
}

}  // namespace
}  // namespace iommu::bench

int main(int argc, char** argv) { return iommu::bench::run(argc, argv); }
