// How the CLI's commands plug into main: each command file adds one subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>

namespace iommu::cli {

// Exit codes of the CLI contract (docs/CLI.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitViolation = 1;
inline constexpr int kExitUsage = 2;
// A sanitizer (ASan, UBSan) found a bug in the process: not a verdict (cli/sanitizer_options.cc).
inline constexpr int kExitSanitizer = 3;

// A usage, configuration or input problem: main prints it and exits with kExitUsage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Action = std::function<int()>;

// Each adds its subcommand to `app`; when the user selects it, the parsed command is stored in
// `action` for main to run after parsing succeeds.
void add_drivers_command(CLI::App& app, Action& action);
void add_check_command(CLI::App& app, Action& action);
void add_selfcheck_command(CLI::App& app, Action& action);
void add_decode_command(CLI::App& app, Action& action);
void add_replay_command(CLI::App& app, Action& action);
void add_fuzz_trace_command(CLI::App& app, Action& action);
void add_mutants_command(CLI::App& app, Action& action);
void add_prove_command(CLI::App& app, Action& action);
void add_diff_command(CLI::App& app, Action& action);
void add_export_command(CLI::App& app, Action& action);

}  // namespace iommu::cli
