// The CLI's own functions: option values read one strict way, messages kept short and
// printable, and a finding printed in full when its trace file cannot be written.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "cli/finding_file.h"
#include "cli/text.h"
#include "cli/validate.h"
#include "conform/impl_driver.h"

namespace iommu::cli {
namespace {

std::string usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

TEST(Validate, CountsAreDecimalOrHexAndNeverClamped) {
  EXPECT_EQ(parse_count("--ops", "100", 1, kMaxU64), 100u);
  EXPECT_EQ(parse_count("--ops", "0x10", 1, kMaxU64), 16u);
  EXPECT_EQ(parse_count("--seed", "18446744073709551615", 0, kMaxU64), kMaxU64);
  EXPECT_EQ(usage_error([] { parse_count("--ops", "0", 1, kMaxU64); }),
            "--ops 0: must be at least 1");
  EXPECT_EQ(usage_error([] { parse_count("--jobs", "257", 1, 256); }),
            "--jobs 257: must be at most 256");
  EXPECT_EQ(usage_error([] { parse_count("--seed", "18446744073709551616", 0, kMaxU64); }),
            "--seed 18446744073709551616: more than 64 bits");
  EXPECT_EQ(usage_error([] { parse_count("--seed", "-1", 0, kMaxU64); }),
            "--seed -1: must not be negative");
  EXPECT_EQ(usage_error([] { parse_count("--ops", "1e3", 1, kMaxU64); }),
            "--ops 1e3: not a whole number (write decimal or 0x hex)");
  EXPECT_EQ(usage_error([] { parse_count("--ops", "", 1, kMaxU64); }),
            "--ops : not a whole number (write decimal or 0x hex)");
  EXPECT_EQ(usage_error([] { parse_count("--ops", "0x", 1, kMaxU64); }),
            "--ops 0x: not a whole number (write decimal or 0x hex)");
}

TEST(Validate, AddressesAreNeverOctalOrNegative) {
  EXPECT_EQ(parse_address("--root", "0x80000000"), 0x80000000u);
  EXPECT_EQ(parse_address("--root", "4096"), 4096u);
  EXPECT_EQ(parse_address("--root", "0"), 0u);
  EXPECT_NE(usage_error([] { parse_address("--root", "010"); }).find("--root 010: a leading 0"),
            std::string::npos);
  EXPECT_EQ(usage_error([] { parse_address("--base", "-4096"); }),
            "--base -4096: must not be negative");
  EXPECT_EQ(usage_error([] { parse_address("--base", "0x1g"); }),
            "--base 0x1g: not an address (write e.g. 0x80000000, or decimal)");
}

TEST(Validate, SizesTakeUnits) {
  EXPECT_EQ(parse_size("--table-memory", "512M", 0, kMaxU64), uint64_t{512} << 20);
  EXPECT_EQ(parse_size("--table-memory", "0x10000", 0, kMaxU64), 0x10000u);
  EXPECT_EQ(usage_error([] { parse_size("--table-memory", "1K", 1 << 16, kMaxU64); }),
            "--table-memory 1K: must be at least 64K");
  EXPECT_EQ(usage_error([] { parse_size("--table-memory", "16E", 0, kMaxU64); }),
            "--table-memory 16E: not a size (write e.g. 512M or 2G, decimal bytes or 0x hex)");
  EXPECT_EQ(usage_error([] { parse_size("--table-memory", "99999999999T", 0, kMaxU64); }),
            "--table-memory 99999999999T: more than 64 bits");
}

TEST(Validate, SecondsAreFinite) {
  EXPECT_EQ(parse_seconds("--time", "2.5", 0.1, kMaxSeconds), 2.5);
  for (const char* bad : {"nan", "inf", "-inf", "", "1s", "0x10"})
    EXPECT_EQ(usage_error([&] { parse_seconds("--time", bad, 0.1, kMaxSeconds); }),
              fmt::format("--time {}: not a number of seconds (write e.g. 30 or 0.5)", bad));
  EXPECT_EQ(usage_error([] { parse_seconds("--time", "1e-300", 0.1, kMaxSeconds); }),
            "--time 1e-300: must be at least 0.1 seconds");
  EXPECT_EQ(usage_error([] { parse_seconds("--time", "1e300", 0.1, kMaxSeconds); }),
            "--time 1e300: must be at most 2678400 seconds");
}

TEST(Validate, TableMemoryMustFitTheOas) {
  EXPECT_NO_THROW(check_table_memory(uint64_t{1} << 30, 48));
  EXPECT_NE(usage_error([] {
              check_table_memory(uint64_t{4} << 30, 32);
            }).find("--table-memory 4G: table memory of 0x100000000 bytes"),
            std::string::npos);
}

TEST(Text, LongValuesAreCut) {
  const std::string long_value(100000, 'a');
  const std::string cut_value = cut(long_value);
  EXPECT_LE(cut_value.size(), kMaxValue);
  EXPECT_NE(cut_value.find("... (100000 bytes)"), std::string::npos);
  EXPECT_EQ(cut("short"), "short");
  EXPECT_EQ(
      shorten("unknown op '" + long_value + "' (ops: map)"),
      "unknown op '" + long_value.substr(0, kMaxValue - 41) + "... (100002 bytes) (ops: map)");
}

TEST(Text, ControlCharactersAreEscaped) {
  EXPECT_EQ(printable("WARN: \x1b[2J\nVIOLATION: forged\\\x7f"),
            "WARN: \\x1b[2J\\x0aVIOLATION: forged\\\\\\x7f");
  EXPECT_EQ(printable("plain text"), "plain text");
}

TEST(FindingFile, NamesCarryTheCallerAndStaySafe) {
  EXPECT_EQ(finding_stem({"out", "plugin:/x/my plugin.so", "hostile"}, "return", 5),
            "plugin-my_plugin.so-hostile-seed5-return");
  EXPECT_EQ(finding_stem({"out", "impl:arm-v7s", "contract"}, "leak", 1),
            "impl-arm-v7s-contract-seed1-leak");
  EXPECT_LE(finding_stem({"out", "plugin:/" + std::string(500, 'p'), "contract"}, "x", 1).size(),
            150u);
}

TEST(FindingFile, AFindingWhoseTraceCannotBeWrittenIsPrintedInFull) {
  const conform::DriverSource src = conform::impl_driver_source("arm-v7s");
  conform::Finding f;
  f.violation = {0, "flush_iotlb_all", "return", "a detail"};
  f.minimized = f.violation;
  f.ops = {conform::FlushIotlbAllOp{}};
  const std::string out =
      (std::filesystem::temp_directory_path() / fmt::format("iommucheck_gone_{}", ::getpid()))
          .string();
  testing::internal::CaptureStdout();
  report_finding({out, "impl:arm-v7s", "contract"}, src, f, 3);
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("VIOLATION: op 1 `flush_iotlb_all`: return: a detail\n"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("not written (" + out +
                         "/impl-arm-v7s-contract-seed3-return.trace: "
                         "cannot write trace: No such file or directory); here it is:\n"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("driver impl:arm-v7s\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\nflush_iotlb_all\n"), std::string::npos) << printed;
}

}  // namespace
}  // namespace iommu::cli
