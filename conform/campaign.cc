#include "conform/campaign.h"

#include <chrono>
#include <cstdio>

#include "conform/minimize.h"
#include "conform/signature.h"

namespace iommu::conform {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool is_set(const std::atomic<bool>* flag) { return flag && flag->load(std::memory_order_relaxed); }

// Distinct, reproducible seeds for the episodes of one campaign seed.
uint64_t episode_seed(uint64_t seed, uint64_t episode) {
  uint64_t z = seed + episode * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A finding kept as it occurred: `why` says why it was not minimized.
Finding unminimized(const Violation& v, std::vector<Op> ops, std::string why) {
  Finding f;
  f.violation = f.minimized = v;
  f.signature = finding_signature(v);
  f.original_ops = ops.size();
  f.ops = std::move(ops);
  f.cut_short = std::move(why);
  return f;
}

struct Episode {
  std::vector<Op> ops;
  std::optional<Violation> violation;
};

// Up to `max_ops` generated ops on a fresh checker, then its teardown. `started` sees each op
// before it runs and may end the episode (false); so may `done`, checked before each op.
std::optional<Violation> run_episode(const DriverSource& source, const CampaignOptions& opts,
                                     uint64_t seed, uint64_t max_ops,
                                     const std::function<bool()>& done,
                                     const std::function<bool(const Op&)>& started) {
  OpGenerator gen(source.info.config, {.mode = opts.mode, .seed = seed});
  Checker checker(source, opts.check);
  for (uint64_t i = 0; i < max_ops && !done(); i++) {
    const Op op = gen.next(checker.reference());
    if (!started(op)) break;
    if (auto v = checker.step(op).violation) return v;
  }
  return checker.teardown();
}

// The state of one campaign across its episodes.
class Campaign {
 public:
  Campaign(const DriverSource& source, const CampaignOptions& opts)
      : source_(source), opts_(opts), seen_(opts.seen ? *opts.seen : own_seen_) {}

  CampaignReport run() {
    for (uint64_t episode = 0; !done() && !finished_; episode++) {
      const uint64_t seed = episode_seed(opts_.seed, episode);
      const uint64_t max_ops =
          opts_.ops == 0 ? opts_.episode_ops : std::min(opts_.episode_ops, opts_.ops - report_.ops);
      Episode e =
          opts_.isolate ? isolated_episode(seed, max_ops) : in_process_episode(seed, max_ops);
      count_ops(e.ops);
      // An episode a violation cut short may end before its first progress call.
      if (opts_.progress) opts_.progress(report_.ops);
      if (e.violation) record(*e.violation, std::move(e.ops), seed);
    }
    report_.seconds = since(start_);
    report_.checking_seconds = report_.seconds - minimizing_seconds_;
    if (!report_.findings.empty()) report_.finding = report_.findings.front();
    return std::move(report_);
  }

 private:
  void count_ops(const std::vector<Op>& ops) {
    for (const Op& op : ops) {
      const std::string_view name = op_name(op);
      auto it = report_.op_mix.find(name);
      if (it == report_.op_mix.end()) it = report_.op_mix.emplace(name, 0).first;
      it->second++;
    }
  }

  bool out_of_time() const { return opts_.seconds > 0 && since(start_) >= opts_.seconds; }
  bool done() const {
    if (is_set(opts_.stop) || is_set(opts_.interrupt) || out_of_time()) return true;
    return opts_.ops != 0 && report_.ops >= opts_.ops;
  }

  Episode in_process_episode(uint64_t seed, uint64_t max_ops) {
    Episode e;
    auto started = [&](const Op& op) {
      e.ops.push_back(op);
      if (++report_.ops % 1024 == 0 && opts_.progress) opts_.progress(report_.ops);
      return true;
    };
    e.violation = run_episode(
        source_, opts_, seed, max_ops, [&] { return done(); }, started);
    return e;
  }

  // The child knows the deadline; the stop flags live in this process, so the parent passes
  // them on through the isolation's stop.
  Episode isolated_episode(uint64_t seed, uint64_t max_ops) {
    const auto deadline = start_ + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(opts_.seconds));
    const bool timed = opts_.seconds > 0;
    auto body = [&](const DriverSource& src, IsolatedChild& child) {
      auto child_done = [&] {
        return child.stop_requested() || (timed && Clock::now() >= deadline);
      };
      return run_episode(src, opts_, seed, max_ops, child_done,
                         [&](const Op& op) { return child.started(op); });
    };
    IsolationOptions iso = isolation();
    const uint64_t before = report_.ops;
    iso.progress = [&](uint64_t n) {
      if (opts_.progress) opts_.progress(before + n);
    };
    IsolatedRun run = run_isolated(source_, body, iso);
    report_.ops += run.ops.size();
    return {std::move(run.ops), std::move(run.violation)};
  }

  IsolationOptions isolation() const {
    return {.call_timeout = opts_.call_timeout,
            .stop = [this] { return is_set(opts_.stop) || is_set(opts_.interrupt); },
            .progress = {}};
  }

  void record(const Violation& v, std::vector<Op> ops, uint64_t seed) {
    const std::string signature = finding_signature(v);
    report_.occurrences[signature]++;
    if (!opts_.keep_going) finished_ = true;
    if (!seen_.claim(signature)) return;
    const double found_after = since(start_);
    const auto minimize_start = Clock::now();
    Finding f = opts_.known && opts_.known(signature)
                    ? unminimized(v, std::move(ops), "known")
                    : minimize_finding(source_, opts_.check, std::move(ops), v, minimize_options());
    minimizing_seconds_ += since(minimize_start);
    f.episode_seed = seed;
    f.found_after_ops = report_.ops;
    f.found_after_seconds = found_after;
    report_.findings.push_back(std::move(f));
  }

  MinimizeOptions minimize_options() const {
    return {.max_tests = opts_.minimize_tests,
            .isolate = opts_.isolate,
            .isolation = isolation(),
            .stop = [this] { return is_set(opts_.interrupt) || out_of_time(); },
            .why_stopped =
                [this] {
                  return std::string(is_set(opts_.interrupt) ? "interrupted" : "the time limit");
                },
            .progress = opts_.minimize_progress};
  }

  const DriverSource& source_;
  const CampaignOptions& opts_;
  SignatureSet own_seen_;
  SignatureSet& seen_;
  const Clock::time_point start_ = Clock::now();
  double minimizing_seconds_ = 0;
  bool finished_ = false;
  CampaignReport report_;
};

}  // namespace

bool SignatureSet::claim(const std::string& signature) {
  std::lock_guard lock(mu_);
  return seen_.insert(signature).second;
}

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

std::optional<Violation> replay_isolated(const DriverSource& source, const std::vector<Op>& ops,
                                         const CheckOptions& check,
                                         const IsolationOptions& isolation,
                                         const ReplayObserver& observe) {
  auto body = [&](const DriverSource& src, IsolatedChild& child) -> std::optional<Violation> {
    Checker checker(src, check);
    for (size_t i = 0; i < ops.size(); i++) {
      child.started(ops[i]);
      StepResult r = checker.step(ops[i]);
      if (observe) {
        observe(i, ops[i], r);
        std::fflush(stdout);
      }
      if (r.violation) return r.violation;
    }
    return checker.teardown();
  };
  return run_isolated(source, body, isolation).violation;
}

Finding minimize_finding(const DriverSource& source, const CheckOptions& check, std::vector<Op> ops,
                         const Violation& violation, const MinimizeOptions& options) {
  const std::string signature = finding_signature(violation);
  Finding f;
  f.violation = f.minimized = violation;
  f.signature = signature;
  f.original_ops = ops.size();
  size_t tests = 0, shortest = ops.size();
  auto still_fails = [&](const std::vector<Op>& candidate) {
    std::optional<Violation> v;
    try {
      v = options.isolate ? replay_isolated(source, candidate, check, options.isolation)
                          : replay_ops(source, candidate, check);
    } catch (const ModelLimitError&) {
      return false;  // a candidate the model cannot judge does not reproduce the finding
    }
    // The minimizer keeps every candidate that fails the same way, so the last one kept is
    // the result and its violation is what the minimized trace reproduces.
    const bool same = v && finding_signature(*v) == signature;
    if (same) {
      shortest = candidate.size();
      f.minimized = *v;
    }
    if (options.progress) options.progress({signature, ++tests, shortest});
    return same;
  };
  MinimizeResult m = minimize(std::move(ops), still_fails, options.max_tests, options.stop);
  f.ops = std::move(m.ops);
  f.minimize_tests = m.tests;
  if (m.stopped && options.why_stopped) f.cut_short = options.why_stopped();
  return f;
}

CampaignReport run_campaign(const DriverSource& source, const CampaignOptions& opts) {
  return Campaign(source, opts).run();
}

}  // namespace iommu::conform
