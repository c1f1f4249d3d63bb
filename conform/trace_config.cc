#include "conform/trace_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "base/bits.h"
#include "conform/trace_text.h"

namespace iommu::conform {
namespace {

using text::fail;

constexpr std::array<std::string_view, 6> kFields = {"pgsizes", "ias",        "oas",
                                                     "partial", "np_caching", "strict|lazy"};

uint64_t parse_pgsizes(std::string_view text) {
  uint64_t bitmap = 0;
  while (true) {
    size_t bar = text.find('|');
    std::string_view one = text.substr(0, bar);
    uint64_t size = 0;
    if (auto e = text::parse_number(one, true, size); e != text::NumberError::kNone)
      fail(fmt::format("config: {} in pgsizes", text::describe(e, one)));
    if (!is_pow2(size)) fail(fmt::format("config: page size '{}' is not a power of two", one));
    if (bitmap & size) fail(fmt::format("config: page size '{}' repeated", one));
    bitmap |= size;
    if (bar == std::string_view::npos) return bitmap;
    text.remove_prefix(bar + 1);
  }
}

unsigned parse_bits(std::string_view key, std::string_view text) {
  uint64_t v = 0;
  if (auto e = text::parse_number(text, false, v); e != text::NumberError::kNone)
    fail(fmt::format("config: {} for '{}'", text::describe(e, text), key));
  if (v < 12 || v > 64)
    fail(fmt::format("config: value out of range '{}={}' (12..64)", key, text));
  return static_cast<unsigned>(v);
}

ref::PartialUnmap parse_partial(std::string_view text) {
  for (auto p : {ref::PartialUnmap::kSplit, ref::PartialUnmap::kRefuse, ref::PartialUnmap::kWhole})
    if (ref::partial_unmap_name(p) == text) return p;
  fail(fmt::format("config: bad value 'partial={}' (split, refuse or whole)", text));
}

bool parse_on_off(std::string_view key, std::string_view text) {
  if (text != "on" && text != "off")
    fail(fmt::format("config: bad value '{}={}' (on or off)", key, text));
  return text == "on";
}

// Which of kFields a word sets; fails on anything else.
size_t field_index(std::string_view word) {
  if (word == "strict" || word == "lazy") return kFields.size() - 1;
  size_t eq = word.find('=');
  if (eq == std::string_view::npos)
    fail(fmt::format("config: '{}' is neither key=value nor strict|lazy", word));
  auto it = std::find(kFields.begin(), kFields.end() - 1, word.substr(0, eq));
  if (it == kFields.end() - 1)
    fail(fmt::format("config: unknown field '{}' (fields: pgsizes ias oas partial np_caching, "
                     "then strict or lazy)",
                     word.substr(0, eq)));
  return static_cast<size_t>(it - kFields.begin());
}

void set_field(ref::DomainConfig& cfg, size_t index, std::string_view word) {
  std::string_view value = word.substr(word.find('=') + 1);
  switch (index) {
    case 0: cfg.pgsize_bitmap = parse_pgsizes(value); break;
    case 1: cfg.ias = parse_bits("ias", value); break;
    case 2: cfg.oas = parse_bits("oas", value); break;
    case 3: cfg.partial_unmap = parse_partial(value); break;
    case 4: cfg.np_caching = parse_on_off("np_caching", value); break;
    default:
      cfg.invalidation = word == "strict" ? ref::Invalidation::kStrict : ref::Invalidation::kLazy;
  }
}

}  // namespace

ref::DomainConfig parse_config(std::span<const std::string_view> words) {
  ref::DomainConfig cfg;
  std::array<bool, kFields.size()> seen{};
  for (std::string_view w : words) {
    size_t i = field_index(w);
    if (seen[i]) fail(fmt::format("config: duplicate field '{}'", kFields[i]));
    seen[i] = true;
    set_field(cfg, i, w);
  }
  for (size_t i = 0; i < kFields.size(); i++)
    if (!seen[i]) fail(fmt::format("config: missing field '{}'", kFields[i]));
  try {
    ref::validate(cfg);
  } catch (const ref::ConfigError& e) {
    fail(fmt::format("config: {}", e.what()));
  }
  return cfg;
}

}  // namespace iommu::conform
