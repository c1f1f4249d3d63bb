#include "conform/kernel_diff.h"

#include <fmt/core.h>

#include <set>
#include <stdexcept>

#include "conform/isolation.h"
#include "conform/minimize.h"
#include "conform/model_limit.h"
#include "conform/trace.h"
#include "ref/config.h"

namespace iommu::conform {
namespace {

// A difference travels from the child as a Violation of check "difference": its detail is
// KIND, then the old side's and the new side's outcome, separated by kSep.
constexpr std::string_view kCheck = "difference";
constexpr std::string_view kSep = "\n";

std::string outcome(const StepResult& r) {
  std::string s = fmt::format("returned {:#x}", static_cast<uint64_t>(r.driver));
  if (r.driver < 0) s = fmt::format("returned {}", r.driver);
  for (const std::string& w : r.tolerated_warnings) s += fmt::format("; WARN {}", w);
  if (r.violation) s += fmt::format("; violation {}: {}", r.violation->check, r.violation->detail);
  return s;
}

// What differs between the two sides of one op, as the words of a kind; empty when nothing.
std::string differences(const StepResult& a, const StepResult& b) {
  std::vector<std::string> what;
  if (a.driver != b.driver) what.emplace_back("return");
  if (a.tolerated_warnings.empty() != b.tolerated_warnings.empty()) what.emplace_back("warn");
  const std::string va = a.violation ? a.violation->check : "none";
  const std::string vb = b.violation ? b.violation->check : "none";
  if (va != vb) what.push_back(fmt::format("violation {}/{}", va, vb));
  std::string s;
  for (const std::string& w : what) s += (s.empty() ? "" : ", ") + w;
  return s;
}

struct Sides {
  const DriverSource* old_src;
  const DriverSource* new_src;
  CheckOptions check;
};

// Steps both checkers through one op: the difference as a Violation, or nullopt. `stop` is
// set when the episode cannot go on (both violated, or the model ran out of table memory).
std::optional<Violation> step_both(Checker& a, Checker& b, const Op& op, size_t index, bool& stop) {
  StepResult ra, rb;
  try {
    ra = a.step(op);
    rb = b.step(op);
  } catch (const ModelLimitError&) {
    stop = true;
    return std::nullopt;
  }
  const std::string what = differences(ra, rb);
  stop = ra.violation || rb.violation;
  if (what.empty()) return std::nullopt;
  const std::string kind = fmt::format("{}: {}", op_name(op), what);
  return Violation{index, format_op(op), std::string(kCheck),
                   fmt::format("{}{}{}{}{}", kind, kSep, outcome(ra), kSep, outcome(rb))};
}

// One episode in a child: generated ops (or `replay`, when given) until the first difference.
// The generated ops at the indices in `skip` (ascending) are drawn but not run: they are the
// earlier differences, left out so that both sides share one history again.
std::optional<Violation> run_episode(const Sides& s, const DiffOptions& o, uint64_t seed,
                                     const std::vector<Op>* replay,
                                     const std::vector<size_t>& skip, std::vector<Op>& ran) {
  auto body = [&](const DriverSource& wrapped, IsolatedChild& child) -> std::optional<Violation> {
    Checker a(wrapped, s.check);
    Checker b(child.watch(*s.new_src), s.check);
    OpGenerator gen(wrapped.info.config, {.mode = o.mode, .seed = seed});
    const size_t n = replay ? replay->size() : o.episode_ops;
    auto skipped = skip.begin();
    for (size_t i = 0; i < n && !child.stop_requested(); i++) {
      const Op op = replay ? (*replay)[i] : gen.next(a.reference());
      if (skipped != skip.end() && *skipped == i) {
        ++skipped;
        continue;
      }
      if (!child.started(op)) break;
      bool stop = false;
      if (auto d = step_both(a, b, op, i, stop)) return d;
      if (stop) break;
    }
    return std::nullopt;
  };
  IsolatedRun run = run_isolated(*s.old_src, body, {.call_timeout = o.call_timeout});
  ran = std::move(run.ops);
  return run.violation;
}

std::string kind_of(const Violation& v) {
  if (v.check != kCheck) return v.check;  // crash, exit, timeout: of either side
  return v.detail.substr(0, v.detail.find(kSep));
}

void fill_sides(DiffGroup& g, const Violation& v) {
  if (v.check != kCheck) {
    g.old_side = g.new_side = fmt::format("{}: {}", v.check, v.detail);
    return;
  }
  const size_t first = v.detail.find(kSep);
  const size_t second = v.detail.find(kSep, first + 1);
  g.old_side = v.detail.substr(first + 1, second - first - 1);
  g.new_side = v.detail.substr(second + 1);
}

DiffGroup minimize_group(const Sides& s, const DiffOptions& o, std::vector<Op> ops,
                         const Violation& first) {
  DiffGroup g{kind_of(first), {}, {}, {}, 0, 0};
  fill_sides(g, first);
  auto still_differs = [&](const std::vector<Op>& candidate) {
    std::vector<Op> ran;
    std::optional<Violation> v;
    try {
      v = run_episode(s, o, 0, &candidate, {}, ran);
    } catch (const IsolationError&) {
      return false;
    }
    if (!v || kind_of(*v) != g.kind) return false;
    fill_sides(g, *v);
    return true;
  };
  g.ops = minimize(std::move(ops), still_differs, o.minimize_tests).ops;
  // The minimizer's last accepted candidate is g.ops; replay it so the sides describe it.
  still_differs(g.ops);
  return g;
}

// Runs one episode to its end, recording each of its differences: after one, the episode runs
// again without that op, so that every op of the stream is compared on a shared history (an
// episode ends early only where both sides violate, or at a crash or hang). Returns the ops the
// last run started.
uint64_t episode(const Sides& s, const DiffOptions& o, uint64_t seed, DiffReport& r,
                 std::map<std::string, size_t>& index) {
  std::vector<size_t> skip;
  std::set<std::string> kinds;  // this episode's
  while (true) {
    std::vector<Op> ran;
    const std::optional<Violation> d = run_episode(s, o, seed, nullptr, skip, ran);
    if (!d) return ran.size() + skip.size();
    const std::string kind = kind_of(*d);
    auto it = index.find(kind);
    if (it == index.end()) {
      it = index.emplace(kind, r.groups.size()).first;
      r.groups.push_back(minimize_group(s, o, ran, *d));
    }
    DiffGroup& g = r.groups[it->second];
    g.ops_differing++;
    if (kinds.insert(kind).second) g.episodes++;
    if (d->check != kCheck) return ran.size() + skip.size();
    // The run repeated every op before the last difference, so it can only differ later.
    if (!skip.empty() && d->op_index <= skip.back())
      throw std::runtime_error(fmt::format(
          "op {} behaved differently when the same ops ran again: a driver whose results are "
          "not a function of its calls cannot be diffed",
          d->op_index));
    skip.push_back(d->op_index);
  }
}

}  // namespace

DiffReport diff_drivers(const DriverSource& old_src, const DriverSource& new_src,
                        const DiffOptions& opts) {
  const ref::DomainConfig& a = old_src.info.config;
  const ref::DomainConfig& b = new_src.info.config;
  // The partial-unmap policy may differ: that is one of the changes diff shows.
  if (a.pgsize_bitmap != b.pgsize_bitmap || a.ias != b.ias || a.oas != b.oas ||
      old_src.info.name != new_src.info.name)
    throw std::invalid_argument(fmt::format(
        "{} and {} are configured differently (name, page sizes, ias or oas): diff compares "
        "one configuration in two trees",
        old_src.info.name, new_src.info.name));
  const Sides s{&old_src, &new_src, opts.check};
  DiffReport r;
  std::map<std::string, size_t> index;  // kind -> group
  while (r.ops < opts.ops) {
    DiffOptions o = opts;
    o.episode_ops = std::min(opts.episode_ops, opts.ops - r.ops);
    const uint64_t seed = opts.seed * 1000003 + r.episodes++;
    r.ops += std::max<uint64_t>(1, episode(s, o, seed, r, index));  // a driver that dies at create
    if (opts.progress) opts.progress(r.ops);
  }
  return r;
}

}  // namespace iommu::conform
