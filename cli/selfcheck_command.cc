#include <fmt/core.h>

#include <memory>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/validate.h"
#include "ref/selfcheck.h"

namespace iommu::cli {
namespace {

int run_selfcheck_command(const ref::SelfcheckOptions& opts) {
  ref::SelfcheckOptions run = opts;
  Progress progress("selfcheck", opts.ops);
  run.progress = [&progress](uint64_t done) { progress.update(done); };
  const ref::SelfcheckReport r = ref::run_selfcheck(run);
  progress.finish();
  for (const std::string& d : r.details) fmt::print("VIOLATION: {}\n", d);
  const double s = progress.seconds();
  fmt::print("summary: driver=ref-vs-oracle ops={} violations={} seconds={:.2f} ops_per_s={:.0f}\n",
             r.ops, r.mismatches, s, static_cast<double>(r.ops) / (s > 0 ? s : 1));
  return r.mismatches == 0 ? kExitOk : kExitViolation;
}

}  // namespace

void add_selfcheck_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ref::SelfcheckOptions>();
  auto* cmd = app.add_subcommand(
      "selfcheck", "Check the reference model against its naive per-page oracle on random ops, "
                   "in every policy combination");
  add_count_option(cmd, "--seed", 0, kMaxU64, [o](uint64_t v) { o->seed = v; },
                   "Random seed (default 1)");
  add_count_option(cmd, "--ops", 1, kMaxU64, [o](uint64_t v) { o->ops = v; },
                   "Number of operations (default 100000)");
  cmd->callback([&action, o] { action = [o] { return run_selfcheck_command(*o); }; });
}

}  // namespace iommu::cli
