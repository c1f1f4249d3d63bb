// Numeric option values, read one way for every command: whole numbers in decimal or 0x hex
// (never octal, never negative, never clamped), sizes with K M G T units, seconds as finite
// decimals. A bad value is a UsageError that names the option, the value and the rule.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace iommu::cli {

inline constexpr uint64_t kMaxU64 = ~uint64_t{0};
// Longer than a month is a typo (and would overflow a clock's duration), not a campaign.
inline constexpr double kMaxSeconds = 31 * 24 * 3600;

uint64_t parse_count(std::string_view option, std::string_view text, uint64_t min, uint64_t max);
// A count, or decimal with a unit K M G T (powers of 1024), e.g. 512M.
uint64_t parse_size(std::string_view option, std::string_view text, uint64_t min, uint64_t max);
// A physical address: a count from 0 to 2^64-1.
uint64_t parse_address(std::string_view option, std::string_view text);
double parse_seconds(std::string_view option, std::string_view text, double min, double max);

// Options whose value goes through the parsers above; `set` receives the parsed value.
CLI::Option* add_count_option(CLI::App* cmd, const std::string& name, uint64_t min, uint64_t max,
                              std::function<void(uint64_t)> set, const std::string& help);
CLI::Option* add_address_option(CLI::App* cmd, const std::string& name,
                                std::function<void(uint64_t)> set, const std::string& help);
CLI::Option* add_size_option(CLI::App* cmd, const std::string& name, uint64_t min, uint64_t max,
                             std::function<void(uint64_t)> set, const std::string& help);
CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double min, double max,
                                std::function<void(double)> set, const std::string& help);

// `--table-memory SIZE` of check and replay, into `bytes`.
CLI::Option* add_table_memory_option(CLI::App* cmd, uint64_t& bytes);
// `--table-memory`: the checker's simulated table memory for a driver of this oas; throws
// UsageError naming the option when the size does not fit (hw::TableMemory::window_for_oas).
void check_table_memory(uint64_t bytes, unsigned oas);

}  // namespace iommu::cli
