// The iopt trace dialect's printer and parser. Lines and numbers follow docs/TRACES.md (the
// lexical pieces are conform/trace_text.h's); the ops and directives are docs/IOPT.md's.
#include "conform/iopt_trace.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>

#include "conform/trace.h"
#include "conform/trace_text.h"

namespace iommu::conform {
namespace {

using K = IoptOp::Kind;
using text::fail;

// Limits that keep a hand-edited trace from asking for absurd amounts of memory.
constexpr unsigned kMaxDomains = 16;
constexpr uint64_t kMaxUserPages = uint64_t{1} << 20;
constexpr uint64_t kMaxRwBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxBatchRuns = uint64_t{1} << 16;
constexpr uint64_t kMaxPinChunk = uint64_t{1} << 20;

struct OpSpec {
  K kind;
  std::string_view name;
  std::vector<std::string_view> keys;  // all required, in printed order; `fail` is optional
};

const std::vector<OpSpec>& op_specs() {
  static const std::vector<OpSpec> specs = {
      {K::kMapUser, "map_user", {"iova", "uva", "length", "prot"}},
      {K::kCopy, "copy", {"dst", "src", "length", "prot"}},
      {K::kUnmap, "unmap", {"iova", "length"}},
      {K::kAttach, "attach", {"domain"}},
      {K::kDetach, "detach", {"domain"}},
      {K::kAddAccess, "add_access", {"iova", "length", "write", "id"}},
      {K::kRemoveAccess, "remove_access", {"id"}},
      {K::kRead, "read", {"id", "offset", "length"}},
      {K::kWrite, "write", {"id", "offset", "length", "fill"}},
      {K::kTeardown, "teardown", {}},
  };
  return specs;
}

const OpSpec& spec_of(K kind) {
  for (const OpSpec& s : op_specs())
    if (s.kind == kind) return s;
  throw std::logic_error("iopt op without a spec");
}

uint64_t& field(IoptOp& op, std::string_view key) {
  if (key == "iova" || key == "dst") return op.iova;
  if (key == "uva" || key == "src") return op.src;
  if (key == "length") return op.length;
  if (key == "id") return op.id;
  if (key == "offset") return op.offset;
  if (key == "fill") return op.fill;
  return op.fail;
}

std::string value_text(IoptOp op, std::string_view key) {
  if (key == "prot") return fmt::format("{}", op.prot);
  if (key == "domain") return fmt::format("{}", op.domain);
  if (key == "write") return op.write ? "1" : "0";
  if (key == "id" || key == "fail") return fmt::format("{}", field(op, key));
  return text::format_addr(field(op, key));
}

uint64_t number(std::string_view what, std::string_view text, bool units = false) {
  uint64_t v = 0;
  if (auto e = text::parse_number(text, units, v); e != text::NumberError::kNone)
    fail(fmt::format("{}: {}", what, text::describe(e, text)));
  return v;
}

uint64_t bounded(std::string_view what, std::string_view text, uint64_t lo, uint64_t hi,
                 bool units = false) {
  const uint64_t v = number(what, text, units);
  if (v < lo || v > hi)
    fail(fmt::format("{}: '{}' is out of range ({} to {})", what, text, lo, hi));
  return v;
}

std::optional<iopt::Mutant> mutant_named(std::string_view name) {
  if (name == iopt::mutant_name(iopt::Mutant::kNone)) return iopt::Mutant::kNone;
  for (iopt::Mutant m : iopt::kAllMutants)
    if (iopt::mutant_name(m) == name) return m;
  return std::nullopt;
}

std::string mutant_names() {
  std::vector<std::string_view> names;
  for (iopt::Mutant m : iopt::kAllMutants) names.push_back(iopt::mutant_name(m));
  return fmt::format("{}", fmt::join(names, " "));
}

class Parser {
 public:
  void line(std::string_view raw) {
    const std::string_view text = raw.substr(0, raw.find('#'));
    auto bad = std::find_if(text.begin(), text.end(), text::is_forbidden_char);
    if (bad != text.end())
      fail(fmt::format("control character {:#04x}", static_cast<unsigned char>(*bad)));
    const std::vector<std::string_view> words = text::split_words(text);
    if (words.empty()) return;
    const std::span<const std::string_view> args(words.begin() + 1, words.end());
    for (std::string_view d : {"driver", "domains", "layout", "config", "mutant", "seed"})
      if (words[0] == d) return directive(d, args);
    trace_.ops.push_back(op(words[0], args));
  }

  IoptTrace take() { return std::move(trace_); }

 private:
  void directive(std::string_view name, std::span<const std::string_view> args) {
    if (!trace_.ops.empty())
      fail(fmt::format("directive '{}' after the first op (directives go before the ops)", name));
    if (std::find(seen_.begin(), seen_.end(), name) != seen_.end())
      fail(fmt::format("duplicate directive '{}'", name));
    seen_.push_back(name);
    if (name == "config") return config(args);
    if (args.size() != 1)
      fail(fmt::format("{}: expected one value, got {} words", name, args.size()));
    const std::string_view v = args[0];
    if (name == "driver") {
      if (!v.starts_with("iopt:"))
        fail(fmt::format("driver: '{}' is not an iopt: driver (this is an iopt trace)", v));
      trace_.driver = std::string(v);
    } else if (name == "domains") {
      trace_.domains = unsigned(bounded("domains", v, 1, kMaxDomains));
    } else if (name == "layout") {
      layout(v);
    } else if (name == "mutant") {
      auto m = mutant_named(v);
      if (!m) fail(fmt::format("mutant: unknown mutant '{}' (mutants: {})", v, mutant_names()));
      trace_.mutant = *m;
    } else {
      trace_.seed = number("seed", v);
    }
  }

  void config(std::span<const std::string_view> args) {
    for (std::string_view w : args) {
      const size_t eq = w.find('=');
      const std::string_view key = w.substr(0, eq), value = w.substr(eq + 1);
      if (eq == std::string_view::npos) fail(fmt::format("config: '{}' is not key=value", w));
      if (key == "batch_runs")
        trace_.batch_runs = bounded("config: batch_runs", value, 1, kMaxBatchRuns);
      else if (key == "pin_chunk")
        trace_.pin_chunk = bounded("config: pin_chunk", value, 1, kMaxPinChunk);
      else
        fail(fmt::format("config: unknown key '{}' (keys: batch_runs pin_chunk)", key));
    }
  }

  // "PFN+NPAGES,PFN+NPAGES,...": distinct PFNs, none of them 0.
  void layout(std::string_view v) {
    uint64_t pages = 0;
    std::vector<iopt::PfnRun> runs;
    for (size_t from = 0; from <= v.size();) {
      const size_t comma = std::min(v.find(',', from), v.size());
      const std::string_view run = v.substr(from, comma - from);
      const size_t plus = run.find('+');
      if (plus == std::string_view::npos) fail(fmt::format("layout: '{}' is not PFN+NPAGES", run));
      const uint64_t pfn = number("layout: PFN", run.substr(0, plus));
      const uint64_t n = bounded("layout: NPAGES", run.substr(plus + 1), 1, kMaxUserPages);
      if (pfn == 0) fail(fmt::format("layout: '{}': PFN 0 is never used", run));
      if (pfn + n < pfn) fail(fmt::format("layout: '{}': the run wraps", run));
      pages += n;
      if (pages > kMaxUserPages)
        fail(fmt::format("layout: more than {} user pages", kMaxUserPages));
      runs.push_back({pfn, n});
      from = comma + 1;
    }
    std::vector<iopt::PfnRun> sorted = runs;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.pfn < b.pfn; });
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i - 1].pfn + sorted[i - 1].npfns > sorted[i].pfn)
        fail(fmt::format("layout: the runs at PFN {:#x} and {:#x} overlap", sorted[i - 1].pfn,
                         sorted[i].pfn));
    trace_.layout = std::move(runs);
  }

  IoptOp op(std::string_view name, std::span<const std::string_view> words) {
    auto spec = std::find_if(op_specs().begin(), op_specs().end(),
                             [&](const OpSpec& s) { return s.name == name; });
    if (spec == op_specs().end()) {
      std::vector<std::string_view> names;
      for (const OpSpec& s : op_specs()) names.push_back(s.name);
      fail(
          fmt::format("unknown op '{}' (ops: {}; directives, before the ops: driver domains "
                      "layout config mutant seed)",
                      name, fmt::join(names, " ")));
    }
    IoptOp op{.kind = spec->kind};
    std::vector<std::string_view> given;
    for (std::string_view w : words) {
      const size_t eq = w.find('=');
      if (eq == std::string_view::npos) fail(fmt::format("{}: '{}' is not key=value", name, w));
      const std::string_view key = w.substr(0, eq), value = w.substr(eq + 1);
      const bool known =
          key == "fail" || std::find(spec->keys.begin(), spec->keys.end(), key) != spec->keys.end();
      if (!known)
        fail(fmt::format("{}: unknown key '{}' (keys: {} fail)", name, key,
                         fmt::join(spec->keys, " ")));
      if (std::find(given.begin(), given.end(), key) != given.end())
        fail(fmt::format("{}: duplicate key '{}'", name, key));
      given.push_back(key);
      set(op, name, key, value);
    }
    for (std::string_view key : spec->keys)
      if (std::find(given.begin(), given.end(), key) == given.end())
        fail(fmt::format("{}: missing key '{}'", name, key));
    return op;
  }

  void set(IoptOp& op, std::string_view name, std::string_view key, std::string_view value) {
    const std::string what = fmt::format("{}: {}", name, key);
    if (key == "prot") {
      op.prot = int(bounded(what, value, 0, 0x7fffffff));
    } else if (key == "domain") {
      op.domain = unsigned(bounded(what, value, 0, trace_.domains - 1));
    } else if (key == "write") {
      op.write = bounded(what, value, 0, 1) != 0;
    } else if (key == "length" && (op.kind == K::kRead || op.kind == K::kWrite)) {
      op.length = bounded(what, value, 0, kMaxRwBytes, true);
    } else {
      field(op, key) = number(what, value, key == "length");
    }
  }

  IoptTrace trace_;
  std::vector<std::string_view> seen_;
};

}  // namespace

IoptTrace iopt_trace_of(const IoptScenario& scenario, std::vector<IoptOp> ops) {
  IoptTrace t;
  t.domains = unsigned(scenario.domains.empty() ? 3 : scenario.domains.size());
  t.layout = scenario.layout;
  t.batch_runs = scenario.config.batch_runs;
  t.pin_chunk = scenario.config.pin_chunk;
  t.mutant = scenario.config.mutant;
  t.ops = std::move(ops);
  return t;
}

IoptScenario iopt_scenario_of(const IoptTrace& trace, const DriverSource& driver) {
  IoptScenario s;
  if (!trace.layout.empty()) s.layout = trace.layout;
  s.config.batch_runs = trace.batch_runs;
  s.config.pin_chunk = trace.pin_chunk;
  s.config.mutant = trace.mutant;
  s.domains.assign(trace.domains, driver);
  return s;
}

std::string format_iopt_op(const IoptOp& op) {
  const OpSpec& spec = spec_of(op.kind);
  std::string line(spec.name);
  for (std::string_view key : spec.keys) line += fmt::format(" {}={}", key, value_text(op, key));
  if (op.fail) line += fmt::format(" fail={}", op.fail);
  return line;
}

std::string format_iopt_trace(const IoptTrace& t, std::string_view comment) {
  std::string out;
  for (size_t from = 0; from < comment.size();) {
    const size_t nl = std::min(comment.find('\n', from), comment.size());
    out += fmt::format("# {}\n", comment.substr(from, nl - from));
    from = nl + 1;
  }
  if (t.driver) out += fmt::format("driver {}\n", *t.driver);
  out += fmt::format("domains {}\n", t.domains);
  if (!t.layout.empty()) {
    std::vector<std::string> runs;
    for (const iopt::PfnRun& r : t.layout) runs.push_back(fmt::format("{:#x}+{}", r.pfn, r.npfns));
    out += fmt::format("layout {}\n", fmt::join(runs, ","));
  }
  out += fmt::format("config batch_runs={} pin_chunk={}\n", t.batch_runs, t.pin_chunk);
  if (t.mutant != iopt::Mutant::kNone)
    out += fmt::format("mutant {}\n", iopt::mutant_name(t.mutant));
  if (t.seed) out += fmt::format("seed {}\n", *t.seed);
  for (const IoptOp& op : t.ops) out += format_iopt_op(op) + "\n";
  return out;
}

IoptTrace parse_iopt_trace(std::string_view text, std::string_view file) {
  constexpr std::string_view kByteOrderMark = "\xef\xbb\xbf";
  if (text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  Parser parser;
  size_t number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    try {
      parser.line(line);
    } catch (const text::LineError& e) {
      throw TraceError(std::string(file), number, e.reason);
    }
  }
  return parser.take();
}

IoptTrace read_iopt_trace_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw TraceError(path, 0, "cannot open trace: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path, 0, fmt::format("cannot open trace: {}", std::strerror(errno)));
  const std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) throw TraceError(path, 0, "cannot read trace");
  return parse_iopt_trace(text, path);
}

bool is_iopt_trace_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string_view> words =
        text::split_words(std::string_view(line).substr(0, line.find('#')));
    if (words.size() >= 2 && words[0] == "driver") return words[1].starts_with("iopt:");
  }
  return false;
}

}  // namespace iommu::conform
