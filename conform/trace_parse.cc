// The trace parser: one line at a time, every problem reported as FILE:LINE: REASON naming
// the token at fault.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

#include "conform/trace.h"
#include "conform/trace_config.h"
#include "conform/trace_text.h"

namespace iommu::conform {
namespace {

using text::fail;
using text::LineError;

using KeyValues = std::vector<std::pair<std::string_view, std::string_view>>;

// Sets one op's fields from its key=value words.
class FieldReader {
 public:
  FieldReader(std::string_view op, const KeyValues& kv) : op_(op), kv_(kv) {}

  void operator()(std::string_view key, uint64_t& v, FieldKind kind) {
    if (auto text = required(key)) v = number(key, *text, kind == FieldKind::kSize);
  }
  void operator()(std::string_view key, int& prot, FieldKind) {
    if (auto text = required(key)) check(text::parse_prot(*text, prot));
  }
  void operator()(std::string_view key, GatherLabel& g, FieldKind) {
    if (auto text = required(key)) g = gather(key, *text);
  }
  void operator()(std::string_view key, std::optional<GatherLabel>& g, FieldKind) {
    if (auto text = find(key)) g = gather(key, *text);
  }
  void operator()(std::string_view key, bool& flag, FieldKind) {
    auto text = find(key);
    if (!text) return;
    if (*text != "0" && *text != "1")
      fail(fmt::format("{}: bad flag '{}={}' (write {}=1 or leave it out)", op_, key, *text, key));
    flag = *text == "1";
  }
  void operator()(std::string_view key, std::vector<ref::Segment>& segs, FieldKind) {
    if (auto text = required(key)) check(text::parse_segments(*text, segs));
  }

 private:
  std::optional<std::string_view> find(std::string_view key) const {
    for (const auto& [k, v] : kv_)
      if (k == key) return v;
    return std::nullopt;
  }
  std::optional<std::string_view> required(std::string_view key) const {
    auto text = find(key);
    if (!text) fail(fmt::format("{}: missing key '{}'", op_, key));
    return text;
  }
  uint64_t number(std::string_view key, std::string_view text, bool units) const {
    uint64_t v = 0;
    if (auto e = text::parse_number(text, units, v); e != text::NumberError::kNone)
      fail(fmt::format("{}: {} for key '{}'", op_, text::describe(e, text), key));
    return v;
  }
  GatherLabel gather(std::string_view key, std::string_view text) const {
    uint64_t v = number(key, text, false);
    if (v > std::numeric_limits<GatherLabel>::max())
      fail(fmt::format("{}: value out of range '{}' for key '{}' (at most {})", op_, text, key,
                       std::numeric_limits<GatherLabel>::max()));
    return static_cast<GatherLabel>(v);
  }
  void check(const text::Problem& p) const {
    if (!p.empty()) fail(fmt::format("{}: {}", op_, p));
  }

  std::string_view op_;
  const KeyValues& kv_;
};

std::vector<std::string_view> keys_of(const Op& op) {
  std::vector<std::string_view> keys;
  for_each_field(op, [&](std::string_view key, const auto&, FieldKind) { keys.push_back(key); });
  return keys;
}

// Splits "key=value" words, rejecting unknown and repeated keys in text order.
KeyValues key_values(std::string_view op, const std::vector<std::string_view>& keys,
                     std::span<const std::string_view> words) {
  KeyValues kv;
  for (std::string_view w : words) {
    size_t eq = w.find('=');
    if (eq == std::string_view::npos) fail(fmt::format("{}: '{}' is not key=value", op, w));
    std::string_view key = w.substr(0, eq);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      fail(fmt::format("{}: unknown key '{}' (keys: {})", op, key, fmt::join(keys, " ")));
    for (const auto& seen : kv)
      if (seen.first == key) fail(fmt::format("{}: duplicate key '{}'", op, key));
    kv.emplace_back(key, w.substr(eq + 1));
  }
  return kv;
}

Op parse_op(std::span<const std::string_view> words) {
  std::optional<Op> op = make_op(words[0]);
  if (!op)
    fail(fmt::format("unknown op '{}' (ops: {}; directives, before the ops: driver config iommu seed)",
                     words[0], fmt::join(op_names(), " ")));
  KeyValues kv = key_values(words[0], keys_of(*op), words.subspan(1));
  for_each_field(*op, FieldReader(words[0], kv));
  return *op;
}

class Parser {
 public:
  void line(std::string_view raw) {
    std::string_view text = raw.substr(0, raw.find('#'));
    auto bad = std::find_if(text.begin(), text.end(), text::is_forbidden_char);
    if (bad != text.end())
      fail(fmt::format("control character {:#04x}", static_cast<unsigned char>(*bad)));
    std::vector<std::string_view> words = text::split_words(text);
    if (words.empty()) return;
    if (is_directive(words[0])) return directive(words);
    trace_.ops.push_back(parse_op(words));
  }

  Trace take() { return std::move(trace_); }

 private:
  static bool is_directive(std::string_view w) {
    return w == "driver" || w == "config" || w == "iommu" || w == "seed";
  }

  void directive(std::span<const std::string_view> words) {
    std::string_view name = words[0];
    if (!trace_.ops.empty())
      fail(fmt::format("directive '{}' after the first op (directives go before the ops)", name));
    if (name == "driver") return driver(words.subspan(1));
    if (name == "seed") return seed(words.subspan(1));
    if (name == "iommu") return iommu(words.subspan(1));
    if (trace_.config) fail("duplicate directive 'config'");
    trace_.config = parse_config(words.subspan(1));
  }

  void driver(std::span<const std::string_view> args) {
    if (trace_.driver) fail("duplicate directive 'driver'");
    if (args.size() != 1)
      fail(fmt::format("driver: expected one NAME, got {} words", args.size()));
    trace_.driver = std::string(args[0]);
  }

  void iommu(std::span<const std::string_view> args) {
    if (trace_.iommu) fail("duplicate directive 'iommu'");
    if (args.size() != 1) fail(fmt::format("iommu: expected one NAME, got {} words", args.size()));
    trace_.iommu = parse_iommu(args[0]);
    if (!trace_.iommu)
      fail(fmt::format("iommu: unknown IOMMU '{}' ({})", args[0], iommu_name_list()));
  }

  void seed(std::span<const std::string_view> args) {
    if (trace_.seed) fail("duplicate directive 'seed'");
    if (args.size() != 1) fail(fmt::format("seed: expected one number, got {} words", args.size()));
    uint64_t v = 0;
    if (auto e = text::parse_number(args[0], false, v); e != text::NumberError::kNone)
      fail(fmt::format("seed: {}", text::describe(e, args[0])));
    trace_.seed = v;
  }

  Trace trace_;
};

}  // namespace

Trace parse_trace(std::string_view text, std::string_view file) {
  constexpr std::string_view kByteOrderMark = "\xef\xbb\xbf";
  if (text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  Parser parser;
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    try {
      parser.line(line);
    } catch (const LineError& e) {
      throw TraceError(std::string(file), number, e.reason);
    }
  }
  return parser.take();
}

}  // namespace iommu::conform
