// Text from outside (option values, a plugin's messages) made safe to print: short enough to
// read, and without control characters that would forge lines or drive the terminal.
#pragma once

#include <string>
#include <string_view>

namespace iommu::cli {

// `value` when it has at most kMaxValue characters; else its start and how long it was, e.g.
// "aaaa... (1048576 bytes)".
inline constexpr size_t kMaxValue = 200;
std::string cut(std::string_view value);

// Every word of a message cut as above (a message quotes the value at fault as one word).
std::string shorten(std::string_view message);

// Control characters and DEL as \xNN, a backslash as \\: what a driver says (its WARN
// messages, its name) printed on one line, as the bytes it sent.
std::string printable(std::string_view text);

}  // namespace iommu::cli
