#include "conform/trace_text.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "base/prot.h"

namespace iommu::conform::text {
namespace {

constexpr std::string_view kUnits = "KMGTPE";  // 2^10 ... 2^60

bool is_hex_prefix(std::string_view t) {
  return t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
}

// Digits only, in `base`: no sign, no prefix, no trailing characters.
NumberError parse_digits(std::string_view digits, int base, uint64_t& out) {
  if (digits.empty() || digits[0] == '-') return NumberError::kBad;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, base);
  if (ec == std::errc::result_out_of_range) return NumberError::kRange;
  if (ec != std::errc() || end != digits.data() + digits.size()) return NumberError::kBad;
  return NumberError::kNone;
}

}  // namespace

NumberError parse_number(std::string_view text, bool units, uint64_t& out) {
  if (is_hex_prefix(text)) return parse_digits(text.substr(2), 16, out);
  size_t unit = units && !text.empty() ? kUnits.find(text.back()) : std::string_view::npos;
  if (unit == std::string_view::npos) return parse_digits(text, 10, out);
  NumberError e = parse_digits(text.substr(0, text.size() - 1), 10, out);
  if (e != NumberError::kNone) return e;
  unsigned shift = 10 * static_cast<unsigned>(unit + 1);
  if (out > (std::numeric_limits<uint64_t>::max() >> shift)) return NumberError::kRange;
  out <<= shift;
  return NumberError::kNone;
}

Problem describe(NumberError e, std::string_view text) {
  if (e == NumberError::kRange)
    return fmt::format("value out of range '{}' (more than 64 bits)", text);
  return fmt::format("bad number '{}'", text);
}

Problem parse_prot(std::string_view text, int& out) {
  if (text.empty()) return "empty prot (write - for none)";
  if (auto prot = prot_from_string(text)) {
    out = *prot;
    return {};
  }
  // prot_from_string only says no: find the letter to name.
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] == '-' || !prot_from_string(std::string_view(&text[i], 1)))
      return fmt::format("bad prot letter '{}' (letters: r w c n m p, or - alone)", text[i]);
    if (text.find(text[i], i + 1) != std::string_view::npos)
      return fmt::format("prot letter '{}' repeated", text[i]);
  }
  return "bad prot";
}

Problem parse_segments(std::string_view text, std::vector<ref::Segment>& out) {
  out.clear();
  while (true) {
    size_t comma = text.find(',');
    std::string_view seg = text.substr(0, comma);
    size_t plus = seg.find('+');
    if (plus == std::string_view::npos)
      return fmt::format("malformed segment '{}' (write PADDR+LENGTH)", seg);
    ref::Segment s;
    std::string_view paddr = seg.substr(0, plus), length = seg.substr(plus + 1);
    if (auto e = parse_number(paddr, false, s.paddr); e != NumberError::kNone)
      return fmt::format("malformed segment '{}': {}", seg, describe(e, paddr));
    if (auto e = parse_number(length, true, s.length); e != NumberError::kNone)
      return fmt::format("malformed segment '{}': {}", seg, describe(e, length));
    out.push_back(s);
    if (comma == std::string_view::npos) return {};
    text.remove_prefix(comma + 1);
  }
}

std::string format_addr(uint64_t value) { return fmt::format("{:#x}", value); }

std::string format_size(uint64_t value) {
  uint64_t n = value;
  size_t unit = 0;
  while (unit < kUnits.size() && n != 0 && (n & 1023) == 0) {
    n >>= 10;
    ++unit;
  }
  if (unit == 0 || n >= 1024) return value == 0 ? "0" : format_addr(value);
  return fmt::format("{}{}", n, kUnits[unit - 1]);
}

std::string format_segments(const std::vector<ref::Segment>& segs) {
  std::string out;
  for (const auto& s : segs) {
    if (!out.empty()) out += ',';
    out += format_addr(s.paddr) + "+" + format_size(s.length);
  }
  return out;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  constexpr std::string_view kSpace = " \t\r";
  size_t pos = line.find_first_not_of(kSpace);
  while (pos != std::string_view::npos) {
    size_t end = line.find_first_of(kSpace, pos);
    words.push_back(line.substr(pos, end - pos));
    pos = line.find_first_not_of(kSpace, end);
  }
  return words;
}

bool is_forbidden_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
}

}  // namespace iommu::conform::text
