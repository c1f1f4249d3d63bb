// `iommucheck export --kunit TRACE [-o FILE] [--name NAME]`: a linux: trace as a KUnit test for
// the kernel (conform/kunit_export.h, docs/LINUX.md "A finding as a KUnit test").
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "conform/kunit_export.h"
#include "conform/trace.h"

namespace iommu::cli {
namespace {

struct ExportArgs {
  std::string trace;
  std::string out;   // empty: stdout
  std::string name;  // empty: the trace file's stem
};

int run_export(const ExportArgs& a) {
  conform::Trace trace;
  try {
    trace = conform::read_trace_file(a.trace);
  } catch (const conform::TraceError& e) {
    throw UsageError(e.what());
  }
  const std::string name = a.name.empty() ? std::filesystem::path(a.trace).stem().string() : a.name;
  std::string text;
  try {
    text = conform::export_kunit(trace, name, a.trace);
  } catch (const conform::KunitExportError& e) {
    throw UsageError(fmt::format("{}: cannot export as a KUnit test: {}", a.trace, e.what()));
  }
  if (a.out.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  std::ofstream out(a.out, std::ios::binary | std::ios::trunc);
  if (!(out << text) || !out.flush())
    throw UsageError(fmt::format("-o {}: cannot write the KUnit test", a.out));
  return kExitOk;
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "export", "Write a linux: finding's trace as a KUnit test of the kernel's io-pgtable code");
  auto args = std::make_shared<ExportArgs>();
  cmd->add_option("--kunit", args->trace, "the trace (of a linux:FORMAT driver) to export")
      ->required()
      ->type_name("TRACE");
  cmd->add_option("-o,--output", args->out, "the C file to write (default: stdout)")
      ->type_name("FILE");
  cmd->add_option("--name", args->name,
                  "the suite's name, iommucheck-NAME (default: the trace file's stem)");
  cmd->callback([&action, args] { action = [args] { return run_export(*args); }; });
}

}  // namespace iommu::cli
