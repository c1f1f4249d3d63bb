#include "cli/validate.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "base/size_name.h"
#include "cli/command.h"
#include "cli/text.h"
#include "hw/table_memory.h"
#include "ref/config.h"

namespace iommu::cli {
namespace {

constexpr std::string_view kUnits = "KMGT";

[[noreturn]] void bad(std::string_view option, std::string_view text, std::string_view why) {
  throw UsageError(fmt::format("{} {}: {}", option, cut(text), why));
}

// Digits in `base`, nothing else: from_chars would take a '-' and stop at any junk.
bool digits(std::string_view option, std::string_view text, std::string_view all, int base,
            uint64_t& out) {
  if (text.empty() || text.find_first_not_of(base == 16 ? "0123456789abcdefABCDEF"
                                                        : "0123456789") != std::string_view::npos)
    return false;
  if (base == 10 && text.size() > 1 && text[0] == '0')
    bad(option, all, "a leading 0 reads as octal elsewhere; write the number in decimal or 0x hex");
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  if (ec == std::errc::result_out_of_range) bad(option, all, "more than 64 bits");
  return ec == std::errc() && end == text.data() + text.size();
}

uint64_t whole(std::string_view option, std::string_view text, bool units, std::string_view kind) {
  uint64_t v = 0;
  if (text.starts_with('-')) bad(option, text, "must not be negative");
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    if (digits(option, text.substr(2), text, 16, v)) return v;
  } else if (const size_t u = units && !text.empty() ? kUnits.find(text.back()) : kUnits.npos;
             u != kUnits.npos) {
    if (digits(option, text.substr(0, text.size() - 1), text, 10, v)) {
      const unsigned shift = 10 * static_cast<unsigned>(u + 1);
      if (v > (kMaxU64 >> shift)) bad(option, text, "more than 64 bits");
      return v << shift;
    }
  } else if (digits(option, text, text, 10, v)) {
    return v;
  }
  bad(option, text, fmt::format("not {}", kind));
}

void in_range(std::string_view option, std::string_view text, uint64_t v, uint64_t min,
              uint64_t max, std::string (*show)(uint64_t)) {
  if (v < min) bad(option, text, fmt::format("must be at least {}", show(min)));
  if (v > max) bad(option, text, fmt::format("must be at most {}", show(max)));
}

std::string decimal(uint64_t v) { return fmt::format("{}", v); }

}  // namespace

uint64_t parse_count(std::string_view option, std::string_view text, uint64_t min, uint64_t max) {
  const uint64_t v = whole(option, text, false, "a whole number (write decimal or 0x hex)");
  in_range(option, text, v, min, max, decimal);
  return v;
}

uint64_t parse_size(std::string_view option, std::string_view text, uint64_t min, uint64_t max) {
  const uint64_t v =
      whole(option, text, true, "a size (write e.g. 512M or 2G, decimal bytes or 0x hex)");
  in_range(option, text, v, min, max, size_name);
  return v;
}

uint64_t parse_address(std::string_view option, std::string_view text) {
  return whole(option, text, false, "an address (write e.g. 0x80000000, or decimal)");
}

double parse_seconds(std::string_view option, std::string_view text, double min, double max) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    bad(option, text, "not a number of seconds (write e.g. 30 or 0.5)");
  if (v < min) bad(option, text, fmt::format("must be at least {} seconds", min));
  if (v > max) bad(option, text, fmt::format("must be at most {} seconds", max));
  return v;
}

CLI::Option* add_count_option(CLI::App* cmd, const std::string& name, uint64_t min, uint64_t max,
                              std::function<void(uint64_t)> set, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [=](const std::string& s) { set(parse_count(name, s, min, max)); }, help)
      ->type_name("N");
}

CLI::Option* add_address_option(CLI::App* cmd, const std::string& name,
                                std::function<void(uint64_t)> set, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [=](const std::string& s) { set(parse_address(name, s)); }, help)
      ->type_name("PADDR");
}

CLI::Option* add_size_option(CLI::App* cmd, const std::string& name, uint64_t min, uint64_t max,
                             std::function<void(uint64_t)> set, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [=](const std::string& s) { set(parse_size(name, s, min, max)); }, help)
      ->type_name("SIZE");
}

CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double min, double max,
                                std::function<void(double)> set, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [=](const std::string& s) { set(parse_seconds(name, s, min, max)); }, help)
      ->type_name("SECONDS");
}

CLI::Option* add_table_memory_option(CLI::App* cmd, uint64_t& bytes) {
  return add_size_option(
      cmd, "--table-memory", hw::TableMemory::kMinWindow, hw::TableMemory::kMaxWindow,
      [&bytes](uint64_t v) { bytes = v; },
      "Simulated memory for the driver's page tables (default 2G; 64K to 64G, within the oas); "
      "a run that needs more stops with exit 2");
}

void check_table_memory(uint64_t bytes, unsigned oas) {
  try {
    (void)hw::TableMemory::window_for_oas(oas, bytes);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("--table-memory {}: {}", size_name(bytes), e.what()));
  }
}

}  // namespace iommu::cli
