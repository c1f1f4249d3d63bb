#include "conform/baseline.h"

#include <fmt/core.h>

#include <fstream>
#include <sstream>
#include <string_view>

namespace iommu::conform {
namespace {

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The first word of s, and s moves past it and the blanks after it.
std::string_view take_word(std::string_view& s) {
  const size_t end = std::min(s.find_first_of(" \t"), s.size());
  std::string_view word = s.substr(0, end);
  s = trim(s.substr(end));
  return word;
}

// Whether `text` matches `pattern`, where * stands for any run of characters (and nothing else
// is special: the signature's own # is a literal).
bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      p++;
      t++;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

bool valid_driver(std::string_view d) {
  const size_t colon = d.find(':');
  return d == "*" || (colon != std::string_view::npos && colon > 0 && colon + 1 < d.size());
}

BaselineEntry parse_entry(std::string_view line, const std::string& where) {
  std::string_view rest = line;
  const std::string_view keyword = take_word(rest);
  if (keyword != "known")
    throw BaselineError(
        fmt::format("{}: expected `known DRIVER SIGNATURE` or a # comment, "
                    "got `{}`",
                    where, line));
  const std::string_view driver = take_word(rest);
  if (!valid_driver(driver))
    throw BaselineError(
        fmt::format("{}: `{}` is not a driver (linux:FORMAT, impl:FORMAT, "
                    "plugin:PATH or *)",
                    where, driver));
  // A signature is a check and what follows it ("warn FILE:LINE", "stale read: ...").
  if (rest.find(' ') == std::string_view::npos)
    throw BaselineError(
        fmt::format("{}: missing the finding's signature after `{}`", where, driver));
  return {.driver = std::string(driver), .signature = std::string(rest)};
}

}  // namespace

Baseline Baseline::parse(const std::string& text, const std::string& path) {
  Baseline b;
  b.path_ = path;
  std::istringstream in(text);
  std::string raw;
  for (size_t n = 1; std::getline(in, raw); n++) {
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = fmt::format("baseline {}:{}", path, n);
    BaselineEntry e = parse_entry(line, where);
    e.line = n;
    for (const BaselineEntry& dup : b.entries_) {
      if (dup.driver == e.driver && dup.signature == e.signature)
        throw BaselineError(fmt::format("{}: the same entry as line {}", where, dup.line));
    }
    b.entries_.push_back(std::move(e));
  }
  return b;
}

Baseline Baseline::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BaselineError(fmt::format("baseline {}: cannot be read", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

const BaselineEntry* Baseline::find(const std::string& driver, const std::string& signature) const {
  for (const BaselineEntry& e : entries_) {
    if (glob_match(e.driver, driver) && glob_match(e.signature, signature)) return &e;
  }
  return nullptr;
}

}  // namespace iommu::conform
