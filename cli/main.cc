// iommucheck: a thin command line over the library layers; see docs/CLI.md.
#include <fmt/core.h>

#include <exception>
#include <string_view>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/text.h"
#include "cli/version.h"
#include "conform/model_limit.h"

namespace cli = iommu::cli;
namespace conform = iommu::conform;

namespace {

// CLI11 would only say "a subcommand is required"; name the word that is not one.
void reject_unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2) return;
  const std::string_view first = argv[1];
  if (first.starts_with('-')) {
    if (first == "-h" || first == "--help" || first == "--version") return;
    throw cli::UsageError(fmt::format(
        "unknown option '{}'; `iommucheck --help` lists the commands, `iommucheck COMMAND "
        "--help` their options",
        first));
  }
  for (const CLI::App* sub : app.get_subcommands({}))
    if (sub->get_name() == argv[1]) return;
  throw cli::UsageError(fmt::format("unknown command '{}'; `iommucheck --help` lists the commands",
                                    argv[1]));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"iommucheck: conformance and verification kit for IOMMU page-table code"};
  app.set_version_flag("--version", fmt::format("iommucheck {}", cli::kVersion));
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 no violation, 1 violation found, 2 usage or configuration error.\n"
      "Progress goes to stderr: a line rewritten on a terminal, else one every "
      "IOMMUCHECK_PROGRESS_SECONDS (default 5).");

  cli::Action action;
  cli::add_drivers_command(app, action);
  cli::add_check_command(app, action);
  cli::add_selfcheck_command(app, action);
  cli::add_decode_command(app, action);
  cli::add_replay_command(app, action);
  cli::add_fuzz_trace_command(app, action);
  cli::add_mutants_command(app, action);
  cli::add_prove_command(app, action);
  cli::add_diff_command(app, action);
  cli::add_export_command(app, action);

  try {
    reject_unknown_command(app, argc, argv);
    app.parse(argc, argv);
    cli::show_linux_build_progress();
    return action();
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "iommucheck: {}\nRun with --help for more information.\n",
               cli::shorten(e.what()));
    return cli::kExitUsage;
  } catch (const cli::UsageError& e) {
    fmt::print(stderr, "iommucheck: {}\n", cli::shorten(e.what()));
    return cli::kExitUsage;
  } catch (const conform::ModelLimitError& e) {
    fmt::print(stderr,
               "iommucheck: model limit: {}\nThis is a limit of the checker's model, not a "
               "finding: give it more table memory with --table-memory SIZE (default 2G, at "
               "most 64G).\n",
               cli::printable(e.what()));
    return cli::kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "iommucheck: internal error: {}\n", cli::shorten(e.what()));
    return cli::kExitUsage;
  }
}
