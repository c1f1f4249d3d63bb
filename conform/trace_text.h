// The lexical pieces of the trace format that the parser and the printer share: numbers with
// optional units, prot letters, segments. Internal to conform/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ref/domain.h"

namespace iommu::conform::text {

// Why a piece of text is not a value: empty when it is one.
using Problem = std::string;

// A problem with the line being parsed; the parser adds the file and line number.
struct LineError {
  std::string reason;
};
[[noreturn]] inline void fail(std::string reason) { throw LineError{std::move(reason)}; }

enum class NumberError { kNone, kBad, kRange };

// "0x1f", "31", and when `units` also "4K", "2M", ... "1E" (decimal only: 0x1E is hex 30).
NumberError parse_number(std::string_view text, bool units, uint64_t& out);
// "bad number 'TEXT'" or "value out of range 'TEXT' (more than 64 bits)".
Problem describe(NumberError e, std::string_view text);
Problem parse_prot(std::string_view text, int& out);
// "PADDR+LENGTH,PADDR+LENGTH,...": at least one segment.
Problem parse_segments(std::string_view text, std::vector<ref::Segment>& out);

std::string format_addr(uint64_t value);  // 0x200000
std::string format_size(uint64_t value);  // 4K, 6K, 2M; hex unless a short unit form exists
std::string format_segments(const std::vector<ref::Segment>& segs);

// Splits at spaces, tabs and carriage returns.
std::vector<std::string_view> split_words(std::string_view line);

// A character the format does not allow outside comments: any control character but tab and
// carriage return.
bool is_forbidden_char(char c);

}  // namespace iommu::conform::text
