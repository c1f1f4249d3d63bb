#include "conform/signature.h"

#include <cctype>
#include <string_view>

namespace iommu::conform {
namespace {

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Whether s[i] continues a name: `s1`, `x86`, and the parts of `arm-64-lpae-s1-4k`.
bool in_name(std::string_view s, size_t i) {
  if (i > 0 && is_word(s[i - 1])) return true;
  return i > 1 && s[i - 1] == '-' && is_word(s[i - 2]);
}

// The length of the number at s[i] (0x1f, 4096, 4K, 2M, ...), or 0 when none starts there.
size_t number_at(std::string_view s, size_t i) {
  if (!is_digit(s[i]) || in_name(s, i)) return 0;
  size_t j = i;
  if (s.substr(i, 2) == "0x" || s.substr(i, 2) == "0X") {
    j += 2;
    while (j < s.size() && is_hex(s[j])) j++;
  } else {
    while (j < s.size() && is_digit(s[j])) j++;
    if (j < s.size() && std::string_view("KMGTPE").find(s[j]) != std::string_view::npos) j++;
  }
  return j < s.size() && is_word(s[j]) ? 0 : j - i;
}

std::string mask_numbers(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (size_t n = number_at(s, i)) {
      out += '#';
      i += n;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// "FILE:LINE" at the start of a WARN's text; the masked text for a WARN without one.
std::string warn_location(std::string_view detail) {
  const size_t colon = detail.find(':');
  size_t end = colon == std::string_view::npos ? 0 : colon + 1;
  while (end < detail.size() && is_digit(detail[end])) end++;
  const bool located = end > colon + 1 && colon != std::string_view::npos &&
                       detail.substr(0, colon).find(' ') == std::string_view::npos;
  return located ? std::string(detail.substr(0, end)) : mask_numbers(detail);
}

}  // namespace

std::string finding_signature(const Violation& v) {
  if (v.check == "warn") return "warn " + warn_location(v.detail);
  const std::string_view op = v.op;
  return v.check + " " + std::string(op.substr(0, op.find(' '))) + ": " + mask_numbers(v.detail);
}

}  // namespace iommu::conform
