#include "cli/check_domain.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "cli/command.h"

namespace iommu::cli {
namespace {

constexpr uint64_t kDefaultOps = 100000;  // check's default budget (docs/CLI.md)

DomainRun make_run(const conform::DriverSource& source, conform::IommuKind iommu,
                   ref::Invalidation invalidation, bool np_caching) {
  DomainRun run{source, iommu, "", ""};
  run.source.info.config.invalidation = invalidation;
  run.source.info.config.np_caching = np_caching;
  const bool lazy = invalidation == ref::Invalidation::kLazy;
  run.label = fmt::format("iommu={} {} np_caching={}", conform::iommu_name(iommu),
                          lazy ? "lazy" : "strict", np_caching ? "on" : "off");
  run.dir = fmt::format("{}-{}{}", conform::iommu_name(iommu), lazy ? "lazy" : "strict",
                        np_caching ? "-np" : "");
  return run;
}

std::vector<DomainRun> matrix_runs(const conform::DriverSource& source) {
  std::vector<DomainRun> runs;
  for (conform::IommuKind kind : conform::iommu_kinds()) {
    for (auto inv : {ref::Invalidation::kStrict, ref::Invalidation::kLazy}) {
      for (bool np : {false, true}) {
        DomainRun run = make_run(source, kind, inv, np);
        if (!conform::iommu_misfit(kind, run.source.info)) runs.push_back(std::move(run));
      }
    }
  }
  return runs;
}

}  // namespace

std::vector<DomainRun> domain_runs(const conform::DriverSource& source, const DomainArgs& args) {
  if (args.matrix) {
    std::vector<DomainRun> runs = matrix_runs(source);
    if (runs.empty())
      throw UsageError(fmt::format("--matrix: no IOMMU model can serve {}", source.info.name));
    return runs;
  }
  std::optional<conform::IommuKind> kind;
  if (!args.iommu.empty()) {
    kind = conform::parse_iommu(args.iommu);
    if (!kind) {
      throw UsageError(
          fmt::format("--iommu {}: unknown IOMMU ({})", args.iommu, conform::iommu_name_list()));
    }
  }
  const auto inv =
      args.invalidation == "lazy" ? ref::Invalidation::kLazy : ref::Invalidation::kStrict;
  // A driver may declare non-present caching itself (virtio's queued requests).
  const bool np_caching = args.np_caching || source.info.config.np_caching;
  conform::DriverSource configured = source;
  configured.info.config.np_caching = np_caching;
  const conform::IommuKind resolved = conform::resolve_iommu(configured.info, kind);
  if (auto why = conform::iommu_misfit(resolved, configured.info)) {
    throw UsageError(fmt::format("{}--iommu {}: {}", args.np_caching ? "--np-caching with " : "",
                                 conform::iommu_name(resolved), *why));
  }
  return {make_run(source, resolved, inv, np_caching)};
}

DomainTally run_domains(const std::vector<DomainRun>& runs, const DomainBudget& budget,
                        unsigned jobs, const RunDomain& run) {
  if (runs.size() == 1) return run(runs.front(), budget);
  DomainTally total;
  double checking_seconds = 0;
  for (size_t i = 0; i < runs.size(); i++) {
    DomainBudget part{.ops = std::nullopt,
                      .seconds = std::nullopt,
                      .out = (std::filesystem::path(budget.out) / runs[i].dir).string()};
    if (budget.seconds) {
      part.seconds = *budget.seconds / static_cast<double>(runs.size());
    } else {
      const uint64_t ops = budget.ops.value_or(kDefaultOps);
      const uint64_t share = ops / runs.size() + (i < ops % runs.size() ? 1 : 0);
      part.ops = std::max<uint64_t>(share, jobs);
    }
    const DomainTally t = run(runs[i], part);
    fmt::print("matrix: {} ops={} violations={} seconds={:.2f}\n", runs[i].label, t.ops,
               t.violations, t.seconds);
    total.ops += t.ops;
    total.violations += t.violations;
    total.known += t.known;
    total.seconds += t.seconds;
    if (t.ops_per_s > 0) checking_seconds += static_cast<double>(t.ops) / t.ops_per_s;
  }
  if (checking_seconds > 0) total.ops_per_s = static_cast<double>(total.ops) / checking_seconds;
  return total;
}

}  // namespace iommu::cli
