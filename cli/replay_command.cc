#include <fmt/core.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/coverage_option.h"
#include "cli/dma_check.h"
#include "cli/iopt_check.h"
#include "cli/text.h"
#include "cli/validate.h"
#include "conform/campaign.h"
#include "conform/fuzz_driver.h"
#include "conform/fuzz_input.h"
#include "conform/iopt_trace.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

struct ReplayArgs {
  std::string trace;
  std::optional<std::string> driver;
  std::string kernel;
  double call_timeout = 5;
  uint64_t table_memory = 0;  // 0: the model's default
  std::string coverage_dir;
};

std::string value_text(int64_t v) {
  return v < 0 ? fmt::format("{}", v) : fmt::format("{:#x}", v);
}

int run_replay(const ReplayArgs& a) {
  if (conform::is_iopt_trace_file(a.trace) || (a.driver && is_iopt_driver(*a.driver)))
    return run_iopt_replay(a.trace, a.driver, a.kernel);
  if (is_dma_trace_file(a.trace)) {
    if (a.driver) throw UsageError("--driver: a dma: trace runs on the driver it names");
    return run_dma_replay(a.trace);
  }
  conform::Trace trace;
  try {
    trace = conform::read_trace_file(a.trace);
  } catch (const conform::TraceError& e) {
    throw UsageError(e.what());
  }
  if (a.driver && a.driver->empty()) throw UsageError("--driver: the driver name is empty");
  const std::string name = a.driver.value_or(trace.driver.value_or(""));
  if (name.empty()) {
    throw UsageError(fmt::format("{}: the trace names no driver. pass --driver NAME", a.trace));
  }
  start_coverage(a.coverage_dir, name);
  conform::DriverSource src;
  try {
    src = conform::configured_source(trace, name, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
  if (a.table_memory) check_table_memory(a.table_memory, src.info.config.oas);
  auto show = [](size_t i, const conform::Op& op, const conform::StepResult& r) {
    fmt::print("{:>5} {}\n      ref={} driver={}{}\n", i + 1, conform::format_op(op),
               value_text(r.ref), value_text(r.driver), r.hw.empty() ? "" : " hw: " + r.hw);
    for (const std::string& w : r.tolerated_warnings)
      fmt::print("      WARN on caller misuse (allowed): {}\n", printable(w));
  };
  if (trace.iommu) {
    if (auto why = conform::iommu_misfit(*trace.iommu, src.info))
      throw UsageError(fmt::format("{}: iommu {}: {}", a.trace, conform::iommu_name(*trace.iommu), *why));
  }
  conform::CheckOptions check{.record_hw = true, .iommu = trace.iommu};
  check.table_memory = a.table_memory;
  // A plugin that crashes, exits or hangs is the replay's finding, not the end of iommucheck.
  std::optional<conform::Violation> violation;
  if (conform::runs_isolated(src.info)) {
    try {
      violation = conform::replay_isolated(src, trace.ops, check, {.call_timeout = a.call_timeout},
                                           show);
    } catch (const conform::IsolationError& e) {
      throw UsageError(e.what());
    }
  } else {
    violation = conform::replay_ops(src, trace.ops, check, show);
  }
  finish_coverage(a.coverage_dir);
  if (violation) {
    fmt::print("VIOLATION: {}\n", printable(violation->message()));
    return kExitViolation;
  }
  fmt::print("no violation in {} ops\n", trace.ops.size());
  return kExitOk;
}

}  // namespace

struct FuzzTraceArgs {
  std::string input;
  std::string driver;  // empty: impl, or linux with --kernel
  std::string kernel;
};

int run_fuzz_trace(const FuzzTraceArgs& a) {
  std::ifstream in(a.input, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot open fuzz input {}", a.input));
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  conform::FuzzDriverChoice choice;
  try {
    choice = conform::fuzz_driver_choice(
        a.driver.empty() ? (a.kernel.empty() ? "impl" : "linux") : a.driver, a.kernel);
  } catch (const conform::DriverError& e) {
    throw UsageError(e.what());
  }
  fmt::print("{}", conform::format_trace(conform::decode_fuzz_input(bytes, choice),
                                         fmt::format("decoded from fuzz input {}", a.input)));
  return kExitOk;
}

void add_fuzz_trace_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<FuzzTraceArgs>();
  auto* cmd = app.add_subcommand(
      "fuzz-trace", "Print the trace a fuzz_diff input decodes to (replay it with `replay`)");
  cmd->add_option("input", a->input, "A fuzz_diff input, e.g. a crash-* file")->required();
  cmd->add_option("--driver", a->driver,
                  "fuzz_diff's --driver: impl, impl:FORMAT, linux or linux:FORMAT (default: "
                  "impl, or linux with --kernel)");
  cmd->add_option("--kernel", a->kernel, "fuzz_diff's --kernel: the tree of linux: drivers")
      ->check(CLI::ExistingDirectory);
  cmd->callback([&action, a] { action = [a] { return run_fuzz_trace(*a); }; });
}

void add_replay_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand(
      "replay", "Re-run a trace, printing each op with the ref, driver and hardware outcome");
  cmd->add_option("trace", a->trace, "Trace file (docs/TRACES.md)")->required();
  cmd->add_option("--driver", a->driver, "Driver to run it on (default: the trace's driver)");
  cmd->add_option("--kernel", a->kernel, "Linux tree for linux:FORMAT drivers")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--call-timeout", a->call_timeout,
                  "Seconds one driver call may take in an isolated (plugin) driver before it "
                  "counts as a hang")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  add_table_memory_option(cmd, a->table_memory);
  add_coverage_option(cmd, a->coverage_dir);
  cmd->callback([&action, a] { action = [a] { return run_replay(*a); }; });
}

}  // namespace iommu::cli
