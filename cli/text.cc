#include "cli/text.h"

#include <fmt/core.h>

namespace iommu::cli {

std::string cut(std::string_view value) {
  if (value.size() <= kMaxValue) return std::string(value);
  return fmt::format("{}... ({} bytes)", value.substr(0, kMaxValue - 40), value.size());
}

std::string shorten(std::string_view message) {
  std::string out;
  while (!message.empty()) {
    const size_t word = message.find_first_of(" \n");
    out += cut(message.substr(0, word));
    if (word == std::string_view::npos) break;
    out += message[word];
    message.remove_prefix(word + 1);
  }
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\')
      out += "\\\\";
    else if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  return out;
}

}  // namespace iommu::cli
