// iommucheck prove: runs the Z3 proofs of proofs/ (docs/PROOFS.md), one row per property.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/results.h"
#include "conform/trace.h"
#include "proofs/proofs.h"

namespace iommu::cli {
namespace {

struct ProveArgs {
  bool list = false;
  std::string only;
  double timeout = 0;
  std::string out = "findings";
  ResultsOptions results;
};

std::string_view status_word(proofs::Status s) {
  switch (s) {
    case proofs::Status::kProved: return "proved";
    case proofs::Status::kCounterexample: return "COUNTEREXAMPLE";
    case proofs::Status::kUnknown: return "unknown";
  }
  return "?";
}

std::vector<proofs::Property> selected(const ProveArgs& a) {
  std::vector<proofs::Property> all = proofs::all_properties();
  if (a.only.empty()) return all;
  for (proofs::Property& p : all)
    if (p.name == a.only) return {p};
  // A broken variant (PROPERTY/VARIANT) by name, to show its counterexample and trace.
  for (proofs::Property& p : proofs::broken_variants())
    if (p.name == a.only) return {p};
  std::vector<std::string> names;
  for (const proofs::Property& p : all) names.push_back(p.name);
  throw UsageError(
      fmt::format("--only {}: no such property; valid: {}", a.only, fmt::join(names, ", ")));
}

// A counterexample that is a call sequence, as a trace `iommucheck replay` accepts.
std::string write_trace(const ProveArgs& a, const proofs::Property& p,
                        const proofs::Outcome& o) {
  conform::Trace trace = conform::parse_trace(fmt::format("{}\n", fmt::join(o.trace_ops, "\n")),
                                              p.name);
  if (!trace.driver) trace.driver = "impl:arm-64-lpae-s1-4k";
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) throw UsageError(fmt::format("--out {}: {}", a.out, ec.message()));
  std::string file = p.name;
  for (char& c : file)
    if (c == '/') c = '-';
  const std::string path = fmt::format("{}/prove-{}.trace", a.out, file);
  conform::write_trace_file(path, trace, fmt::format("iommucheck prove: {} counterexample", p.name));
  return path;
}

// A property's row in the CI formats: proved passes; a counterexample or no answer fails.
ResultCase property_case(const proofs::Property& p, const proofs::Outcome& o,
                         const std::string& trace) {
  ResultCase c{.name = p.name, .seconds = o.seconds, .log = o.model};
  if (o.status == proofs::Status::kProved) return c;
  c.verdict = Verdict::kFail;
  // The model's first line says what went wrong; the values follow in the log.
  const std::string first = o.model.empty() ? "" : o.model.front();
  c.message = o.status == proofs::Status::kCounterexample ? fmt::format("counterexample: {}", first)
                                                          : fmt::format("unknown: {}", first);
  if (o.status == proofs::Status::kCounterexample)
    c.findings.push_back({.check = "prove",
                          .op = std::nullopt,
                          .message = c.message,
                          .trace = trace,
                          .trace_ops = o.trace_ops.size()});
  return c;
}

int run_prove(const ProveArgs& a) {
  const std::vector<proofs::Property> props = selected(a);
  if (a.list) {
    if (!a.results.junit.empty() || !a.results.ktap.empty() || !a.results.json.empty())
      throw UsageError("--list proves nothing: --junit, --ktap and --json need a run");
    for (const proofs::Property& p : props) fmt::print("{:<26} {}\n", p.name, p.summary);
    return kExitOk;
  }
  ResultsOutput output(a.results);
  Results results{.command = "prove",
                  .suite = "prove",
                  .config = {{"only", a.only}, {"timeout", a.timeout}, {"out", a.out}}};
  const auto timeout_ms = static_cast<unsigned>(a.timeout * 1000);
  fmt::print("{:<30} {:<15} {:>8}\n", "property", "result", "seconds");
  Progress progress("prove", props.size(), std::nullopt, "properties");
  size_t proved = 0;
  double seconds = 0;
  for (size_t i = 0; i < props.size(); i++) {
    progress.update(i, props[i].name);
    const proofs::Outcome o = props[i].prove(timeout_ms);
    seconds += o.seconds;
    proved += o.status == proofs::Status::kProved;
    fmt::print("{:<30} {:<15} {:>8.2f}\n", props[i].name, status_word(o.status), o.seconds);
    for (const std::string& line : o.model) fmt::print("    {}\n", line);
    const std::string trace = o.trace_ops.empty() ? "" : write_trace(a, props[i], o);
    if (!trace.empty()) fmt::print("    trace: {}\n", trace);
    std::fflush(stdout);
    results.cases.push_back(property_case(props[i], o, trace));
  }
  progress.finish();
  fmt::print("summary: properties={} proved={} not_proved={} seconds={:.2f}\n", props.size(),
             proved, props.size() - proved, seconds);
  results.summary = {{"properties", uint64_t{props.size()}},
                     {"proved", uint64_t{proved}},
                     {"not_proved", uint64_t{props.size() - proved}},
                     {"seconds", seconds}};
  results.exit_code = proved == props.size() ? kExitOk : kExitViolation;
  return output.write(results);
}

}  // namespace

void add_prove_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<ProveArgs>();
  auto* cmd = app.add_subcommand(
      "prove", "The Z3 proofs: one row per property (exit 0 iff every one is proved)");
  cmd->add_flag("--list", a->list, "List the properties and what each says, prove nothing");
  cmd->add_option("--only", a->only,
                  "Prove only the property of this name (or a broken variant, PROPERTY/VARIANT, "
                  "to see its counterexample)");
  cmd->add_option("--timeout", a->timeout, "Seconds Z3 may spend per property (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Directory for counterexample traces")->capture_default_str();
  add_results_options(cmd, a->results);
  cmd->callback([&action, a] { action = [a] { return run_prove(*a); }; });
}

}  // namespace iommu::cli
