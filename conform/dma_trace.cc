// DMA traces: their text form, random generation, minimization, and the DMA bug zoo.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <random>
#include <sstream>

#include "base/prot.h"
#include "conform/dma_checker.h"
#include "conform/registry.h"
#include "conform/trace.h"

namespace iommu::conform {

std::string format_dma_op(const DmaOp& op) {
  switch (op.kind) {
    case DmaOpKind::kMap:
      return fmt::format("map m{} paddr {:#x} size {:#x} prot {}", op.label, op.paddr, op.size,
                         prot_to_string(op.prot));
    case DmaOpKind::kUnmap:
      return fmt::format("unmap m{}{} cpu {}", op.label,
                         op.size ? fmt::format(" size {:#x}", op.size) : "", op.cpu);
    case DmaOpKind::kUnmapIova:
      return fmt::format("unmap-iova {:#x} size {:#x} cpu {}", op.iova, op.size, op.cpu);
    case DmaOpKind::kTick:
      return fmt::format("tick {}", op.ms);
    case DmaOpKind::kPoll:
      return "poll";
    case DmaOpKind::kDrain:
      return "drain";
    case DmaOpKind::kAccess:
      return fmt::format("{} m{} +{:#x}", op.write ? "write" : "read", op.label, op.iova);
    case DmaOpKind::kAccessIova:
      return fmt::format("{}-iova {:#x}", op.write ? "write" : "read", op.iova);
  }
  return "?";
}

std::string format_dma_trace(const DmaTrace& t) {
  std::string s;
  std::istringstream comment(t.comment);
  for (std::string line; std::getline(comment, line);) s += "# " + line + "\n";
  const DmaScenario& c = t.scenario;
  s += fmt::format(
      "driver dma:{}\nmode {}\ncpus {}\nfq-entries {}\nfq-timeout-ms {}\n"
      "dma-bits {}\ncaller {}\n",
      c.format, dma_mode_name(c.mode), c.cpus, c.fq_entries, c.fq_timeout_ms, c.dma_bits,
      c.caller == CallerMode::kHostile ? "hostile" : "contract");
  for (const DmaOp& op : t.ops) s += format_dma_op(op) + "\n";
  return s;
}

bool is_dma_trace(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("driver ", 0) == 0) return line.rfind("driver dma:", 0) == 0;
  return false;
}

namespace {

// One line's words, read in order; every error names the line.
class Words {
 public:
  Words(const std::string& line, const std::string& where, size_t n) : where_(where), n_(n) {
    std::istringstream in(line);
    for (std::string w; in >> w;) words_.push_back(w);
  }
  bool done() const { return i_ == words_.size(); }
  std::string next(std::string_view what) {
    if (done()) fail(fmt::format("{} is missing", what));
    return words_[i_++];
  }
  uint64_t number(std::string_view what) { return number_in(next(what), what); }
  uint64_t number_in(const std::string& w, std::string_view what) const {
    size_t used = 0;
    uint64_t v = 0;
    try {
      v = std::stoull(w, &used, 0);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || w.empty() || w[0] == '-')
      fail(fmt::format("{} '{}' is not a number", what, w));
    return v;
  }
  void keyword(std::string_view k) {
    const std::string w = next(k);
    if (w != k) fail(fmt::format("expected '{}', found '{}'", k, w));
  }
  unsigned label() {
    const std::string w = next("the mapping label");
    if (w.size() < 2 || w[0] != 'm')
      fail(fmt::format("'{}' is not a mapping label (m0, m1, ...)", w));
    return static_cast<unsigned>(number_in(w.substr(1), "the label number"));
  }
  [[noreturn]] void fail(const std::string& why) const { throw TraceError(where_, n_, why); }

 private:
  std::vector<std::string> words_;
  size_t i_ = 0;
  std::string where_;
  size_t n_;
};

DmaOp parse_op(Words& w, const std::string& name) {
  DmaOp op;
  if (name == "map") {
    op.kind = DmaOpKind::kMap;
    op.label = w.label();
    w.keyword("paddr");
    op.paddr = w.number("paddr");
    w.keyword("size");
    op.size = w.number("size");
    w.keyword("prot");
    const std::string p = w.next("prot");
    const std::optional<int> prot = prot_from_string(p);
    if (!prot) w.fail(fmt::format("prot '{}' is not one like r, w or rw", p));
    op.prot = *prot;
  } else if (name == "unmap" || name == "unmap-iova") {
    op.kind = name == "unmap" ? DmaOpKind::kUnmap : DmaOpKind::kUnmapIova;
    if (name == "unmap")
      op.label = w.label();
    else
      op.iova = w.number("iova");
    std::string k = w.next("cpu");
    if (k == "size") {
      op.size = w.number("size");
      k = w.next("cpu");
    } else if (name == "unmap-iova") {
      w.fail("unmap-iova needs a size");
    }
    if (k != "cpu") w.fail(fmt::format("expected 'cpu', found '{}'", k));
    op.cpu = static_cast<unsigned>(w.number("cpu"));
  } else if (name == "tick") {
    op.kind = DmaOpKind::kTick;
    op.ms = w.number("milliseconds");
  } else if (name == "poll" || name == "drain") {
    op.kind = name == "poll" ? DmaOpKind::kPoll : DmaOpKind::kDrain;
  } else if (name == "read" || name == "write") {
    op.kind = DmaOpKind::kAccess;
    op.write = name == "write";
    op.label = w.label();
    const std::string off = w.next("offset");
    if (off.empty() || off[0] != '+') w.fail(fmt::format("offset '{}' does not start with +", off));
    op.iova = w.number_in(off.substr(1), "offset");
  } else if (name == "read-iova" || name == "write-iova") {
    op.kind = DmaOpKind::kAccessIova;
    op.write = name == "write-iova";
    op.iova = w.number("iova");
  } else {
    w.fail(
        fmt::format("unknown operation '{}' (map, unmap, unmap-iova, tick, poll, drain, read, "
                    "write, read-iova, write-iova)",
                    name));
  }
  if (!w.done()) w.fail("unexpected words at the end of the line");
  return op;
}

void parse_setting(Words& w, const std::string& key, DmaScenario& s, bool& have_driver) {
  if (key == "driver") {
    const std::string d = w.next("the driver");
    if (d.rfind("dma:", 0) != 0) w.fail(fmt::format("driver '{}' is not a dma: driver", d));
    s.format = d.substr(4);
    have_driver = true;
  } else if (key == "mode") {
    const std::string m = w.next("the mode");
    const auto mode = parse_dma_mode(m);
    if (!mode) w.fail(fmt::format("mode '{}' is not strict, per-cpu or single", m));
    s.mode = *mode;
  } else if (key == "cpus") {
    s.cpus = static_cast<unsigned>(w.number("cpus"));
    if (s.cpus == 0 || s.cpus > 256) w.fail("cpus must be 1 to 256");
  } else if (key == "fq-entries") {
    s.fq_entries = w.number("fq-entries");
    if (s.fq_entries == 1 || s.fq_entries > (1u << 20) || (s.fq_entries & (s.fq_entries - 1)))
      w.fail("fq-entries must be 0 or a power of two from 2 to 2^20");
  } else if (key == "fq-timeout-ms") {
    s.fq_timeout_ms = w.number("fq-timeout-ms");
  } else if (key == "dma-bits") {
    s.dma_bits = static_cast<unsigned>(w.number("dma-bits"));
    if (s.dma_bits < 13 || s.dma_bits > 64) w.fail("dma-bits must be 13 to 64");
  } else if (key == "caller") {
    const std::string c = w.next("the caller mode");
    if (c != "contract" && c != "hostile") w.fail("caller must be contract or hostile");
    s.caller = c == "hostile" ? CallerMode::kHostile : CallerMode::kContract;
  }
  if (!w.done()) w.fail("unexpected words at the end of the line");
}

}  // namespace

DmaTrace parse_dma_trace(const std::string& text, const std::string& where) {
  DmaTrace t;
  bool have_driver = false;
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#", 0) == 0) {
      if (t.ops.empty()) t.comment += line.substr(std::min<size_t>(2, line.size())) + "\n";
      continue;
    }
    Words w(line, where, n);
    if (w.done()) continue;
    const std::string key = w.next("a keyword");
    static const std::vector<std::string> settings = {
        "driver", "mode", "cpus", "fq-entries", "fq-timeout-ms", "dma-bits", "caller"};
    if (std::find(settings.begin(), settings.end(), key) != settings.end()) {
      if (!t.ops.empty()) w.fail(fmt::format("'{}' after the first operation", key));
      parse_setting(w, key, t.scenario, have_driver);
    } else {
      t.ops.push_back(parse_op(w, key));
    }
  }
  if (!have_driver) throw TraceError(where, 0, "no `driver dma:FORMAT` line");
  return t;
}

DmaRunResult run_dma_trace(const DmaTrace& t,
                           const std::function<void(size_t, const std::string&)>& show) {
  DmaChecker checker(t.scenario);
  DmaRunResult r;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    std::string out;
    r.violation = checker.step(t.ops[i], &out);
    ++r.ops;
    if (show) show(i, out);
    if (r.violation) {
      r.failing_op = i;
      r.stale_hits = checker.stale_hits();
      return r;
    }
  }
  r.violation = checker.teardown();
  r.stale_hits = checker.stale_hits();
  return r;
}

DmaScenario dma_scenario(const std::string& format, DmaMode mode, CallerMode caller,
                         uint64_t seed) {
  DmaScenario s;
  s.format = format;
  s.mode = mode;
  s.caller = caller;
  if (mode == DmaMode::kPerCpu) {
    s.cpus = 1 + seed % 4;
    s.fq_entries = std::array<uint64_t, 4>{4, 8, 16, 0}[(seed >> 2) % 4];
  } else if (mode == DmaMode::kSingle) {
    s.fq_entries = std::array<uint64_t, 3>{4, 64, 0}[(seed >> 2) % 3];
  }
  s.dma_bits = std::array<unsigned, 3>{20, 24, 32}[(seed >> 4) % 3];
  return s;
}

namespace {

class DmaGenerator {
 public:
  DmaGenerator(const DmaScenario& s, uint64_t seed) : s_(s), rng_(seed) {
    const ref::DomainConfig c = resolve_driver("impl:" + s.format).info.config;
    granule_ = c.min_pgsize();
    space_bits_ = std::min(s.dma_bits ? s.dma_bits : c.ias, c.ias);
    paddr_bits_ = std::min(c.oas, 36u);
  }

  DmaOp next() {
    const bool hostile = s_.caller == CallerMode::kHostile;
    const uint64_t roll = pick(100);
    if (hostile && roll < 8) return misuse();
    if (roll < 30 && (live_.size() < 48 || live_.empty())) return map();
    if (roll < 50 && !live_.empty()) return unmap();
    if (roll < 68 && !live_.empty()) return access(live_[pick(live_.size())]);
    if (roll < 80 && !gone_.empty()) return access(gone_[pick(gone_.size())]);
    if (roll < 82)
      return {.kind = DmaOpKind::kAccessIova, .iova = pick(space_end()), .write = coin()};
    if (roll < 92) return tick();
    if (roll < 98) return {.kind = DmaOpKind::kPoll};
    if (roll < 99) return {.kind = DmaOpKind::kDrain};
    return live_.empty() ? map() : unmap();
  }

 private:
  struct Made {
    unsigned label;
    uint64_t size;
  };

  uint64_t pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool coin() { return rng_() & 1; }
  uint64_t space_end() const {
    return space_bits_ >= 64 ? ~uint64_t{0} : uint64_t{1} << space_bits_;
  }
  unsigned cpu() { return static_cast<unsigned>(pick(s_.mode == DmaMode::kPerCpu ? s_.cpus : 4)); }

  DmaOp map() {
    uint64_t pages = 1 + pick(4);
    if (pick(10) == 0 && space_bits_ >= 24) pages = 1 + pick((uint64_t{2} << 20) / granule_);
    const uint64_t size = pages * granule_ - pick(granule_);
    uint64_t paddr = pick(uint64_t{1} << (paddr_bits_ - 21)) << 21;
    if (pages < 256) paddr += pick(512) * granule_;
    if (coin()) paddr += pick(granule_);
    const int prot = std::array<int, 4>{IOMMU_READ | IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                                        IOMMU_READ, IOMMU_WRITE}[pick(4)];
    live_.push_back({next_label_, size});
    return {.kind = DmaOpKind::kMap,
            .label = next_label_++,
            .paddr = paddr,
            .size = size,
            .prot = prot};
  }

  DmaOp unmap() {
    const size_t i = pick(live_.size());
    const Made m = live_[i];
    live_.erase(live_.begin() + static_cast<ptrdiff_t>(i));
    gone_.push_back(m);
    if (gone_.size() > 16) gone_.erase(gone_.begin());
    return {.kind = DmaOpKind::kUnmap, .label = m.label, .cpu = cpu()};
  }

  DmaOp access(const Made& m) {
    const uint64_t off = coin() ? pick(m.size) : (coin() ? 0 : m.size - 1);
    return {.kind = DmaOpKind::kAccess, .label = m.label, .iova = off, .write = coin()};
  }

  DmaOp tick() {
    const uint64_t t = s_.timeout_ms();
    const uint64_t ms = std::array<uint64_t, 6>{1, 2, t / 2, t - 1, t, t + 1}[pick(6)];
    return {.kind = DmaOpKind::kTick, .ms = ms};
  }

  // Hostile calls: double unmaps, wrong sizes, unknown iovas, CPUs that do not exist, sizes
  // dma_map must refuse.
  DmaOp misuse() {
    switch (pick(6)) {
      case 0:
        if (!gone_.empty())
          return {
              .kind = DmaOpKind::kUnmap, .label = gone_[pick(gone_.size())].label, .cpu = cpu()};
        break;
      case 1:
        if (!live_.empty()) {
          const Made m = live_[pick(live_.size())];
          return {.kind = DmaOpKind::kUnmap,
                  .label = m.label,
                  .size = m.size + granule_ * (1 + pick(2)),
                  .cpu = cpu()};
        }
        break;
      case 2:
        if (!live_.empty() && s_.mode == DmaMode::kPerCpu)
          return {.kind = DmaOpKind::kUnmap,
                  .label = live_[pick(live_.size())].label,
                  .cpu = s_.cpus + static_cast<unsigned>(pick(3))};
        break;
      case 3:
        return {.kind = DmaOpKind::kMap,
                .label = next_label_++,
                .paddr = pick(1 << 20),
                .size = coin() ? 0 : ~uint64_t{0} - pick(granule_),
                .prot = IOMMU_READ};
      default:
        break;
    }
    return {.kind = DmaOpKind::kUnmapIova,
            .size = 1 + pick(4 * granule_),
            .iova = pick(space_end()),
            .cpu = cpu()};
  }

  DmaScenario s_;
  std::mt19937_64 rng_;
  uint64_t granule_ = 0x1000;
  unsigned space_bits_ = 32;
  unsigned paddr_bits_ = 32;
  unsigned next_label_ = 0;
  std::vector<Made> live_;
  std::vector<Made> gone_;  // recently unmapped: their iovas are the stale candidates
};

}  // namespace

DmaTrace generate_dma_trace(const DmaScenario& scenario, uint64_t seed, uint64_t ops) {
  DmaTrace t;
  t.scenario = scenario;
  DmaGenerator gen(scenario, seed);
  for (uint64_t i = 0; i < ops; ++i) t.ops.push_back(gen.next());
  return t;
}

// Drops ever smaller chunks of ops while the same rule still breaks; a bounded number of runs.
DmaTrace minimize_dma_trace(const DmaTrace& t, const std::string& rule) {
  DmaTrace best = t;
  const DmaRunResult first = run_dma_trace(best);
  if (first.failing_op) best.ops.resize(*first.failing_op + 1);
  int budget = 600;
  for (size_t chunk = best.ops.size() / 2; chunk >= 1 && budget > 0; chunk /= 2) {
    for (size_t i = 0; i < best.ops.size() && budget > 0;) {
      DmaTrace trial = best;
      const auto from = trial.ops.begin() + static_cast<ptrdiff_t>(i);
      trial.ops.erase(from, from + static_cast<ptrdiff_t>(std::min(chunk, trial.ops.size() - i)));
      --budget;
      const DmaRunResult r = run_dma_trace(trial);
      if (r.violation && r.violation->rule == rule) {
        if (r.failing_op) trial.ops.resize(*r.failing_op + 1);
        best = std::move(trial);
      } else {
        i += chunk;
      }
    }
  }
  return best;
}

std::span<const DmaMutantSpec> dma_mutant_specs() {
  static const DmaMutantSpec specs[] = {
      {impl::Mutant::kDmaFreeUnflushed, "dma-reuse-before-flush",
       "the flush queue frees an IOVA queued after the last flush started (fq_ring_free off by "
       "one): the IOVA is handed out again before a flush covers it",
       DmaMode::kPerCpu},
      {impl::Mutant::kDmaQueueForgets, "dma-fq-forgets-entry",
       "a full flush-queue ring drops its oldest entry instead of flushing: the IOVA leaks and "
       "its translation stays",
       DmaMode::kPerCpu},
      {impl::Mutant::kDmaTimerNeverFires, "dma-fq-timer-never-fires",
       "the flush-queue timer is never armed to fire (fq_flush_timeout lost)", DmaMode::kSingle},
      {impl::Mutant::kDmaStrictNoSync, "dma-strict-no-sync",
       "a strict dma_unmap frees the IOVA without iotlb_sync", DmaMode::kStrict},
  };
  return specs;
}

MutantKill dma_mutant_kill(const DmaMutantSpec& spec, double seconds, uint64_t seed) {
  MutantKill k;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (uint64_t e = 0; elapsed() < seconds; ++e) {
    DmaScenario s = dma_scenario("arm-64-lpae-s1-4k", spec.mode, CallerMode::kContract, seed + e);
    s.bug = spec.id;
    const DmaTrace t = generate_dma_trace(s, seed * 1000003 + e, 500);
    const DmaRunResult r = run_dma_trace(t);
    k.ops += r.ops;
    if (!r.violation) continue;
    const DmaTrace small = minimize_dma_trace(t, r.violation->rule);
    const DmaRunResult again = run_dma_trace(small);
    k.killed = true;
    k.check = r.violation->rule;
    k.violation = again.violation ? again.violation->message() : r.violation->message();
    k.trace_ops = small.ops.size();
    break;
  }
  k.seconds = elapsed();
  return k;
}

}  // namespace iommu::conform
