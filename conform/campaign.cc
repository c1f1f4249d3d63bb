#include "conform/campaign.h"

#include <chrono>

#include "conform/minimize.h"

namespace iommu::conform {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Distinct, reproducible seeds for the episodes of one campaign seed.
uint64_t episode_seed(uint64_t seed, uint64_t episode) {
  uint64_t z = seed + episode * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Episode {
  std::vector<Op> ops;
  std::optional<Violation> violation;
};

}  // namespace

std::optional<Violation> replay_ops(const DriverSource& source, const std::vector<Op>& ops,
                                    const CheckOptions& check, const ReplayObserver& observe) {
  Checker checker(source, check);
  for (size_t i = 0; i < ops.size(); i++) {
    StepResult r = checker.step(ops[i]);
    if (observe) observe(i, ops[i], r);
    if (r.violation) return r.violation;
  }
  return checker.teardown();
}

Finding minimize_finding(const DriverSource& source, const CheckOptions& check,
                         std::vector<Op> ops, const Violation& violation, size_t max_tests) {
  Finding f{.violation = violation, .minimized = violation, .ops = {}, .original_ops = ops.size()};
  auto still_fails = [&](const std::vector<Op>& candidate) {
    try {
      auto v = replay_ops(source, candidate, check);
      return v && v->check == violation.check;
    } catch (const ModelLimitError&) {
      return false;  // a candidate the model cannot judge does not reproduce the finding
    }
  };
  MinimizeResult m = minimize(std::move(ops), still_fails, max_tests);
  f.ops = std::move(m.ops);
  f.minimize_tests = m.tests;
  if (auto v = replay_ops(source, f.ops, check)) f.minimized = *v;
  return f;
}

CampaignReport run_campaign(const DriverSource& source, const CampaignOptions& opts) {
  const auto start = Clock::now();
  CampaignReport report;
  auto done = [&] {
    if (opts.stop && opts.stop->load(std::memory_order_relaxed)) return true;
    if (opts.ops != 0 && report.ops >= opts.ops) return true;
    return opts.seconds > 0 && since(start) >= opts.seconds;
  };
  for (uint64_t episode = 0; !done(); episode++) {
    const uint64_t seed = episode_seed(opts.seed, episode);
    OpGenerator gen(source.info.config, {.mode = opts.mode, .seed = seed});
    Checker checker(source, opts.check);
    Episode e;
    for (uint64_t i = 0; i < opts.episode_ops && !done() && !e.violation; i++) {
      e.ops.push_back(gen.next(checker.reference()));
      e.violation = checker.step(e.ops.back()).violation;
      if (++report.ops % 1024 == 0 && opts.progress) opts.progress(report.ops);
    }
    if (!e.violation) e.violation = checker.teardown();
    if (e.violation) {
      const double found_after = since(start);
      report.finding = minimize_finding(source, opts.check, std::move(e.ops), *e.violation,
                                        opts.minimize_tests);
      report.finding->episode_seed = seed;
      report.finding->found_after_ops = report.ops;
      report.finding->found_after_seconds = found_after;
      break;
    }
  }
  report.seconds = since(start);
  return report;
}

}  // namespace iommu::conform
