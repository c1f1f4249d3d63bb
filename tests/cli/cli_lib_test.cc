// The CLI's own functions: option values read one strict way, messages kept short and
// printable, a finding printed in full when its trace file cannot be written, the CI formats'
// writers and the progress line.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "cli/finding_file.h"
#include "cli/progress.h"
#include "cli/results.h"
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

// What a writer prints, as a string.
std::string written(void (*write)(const Results&, std::FILE*), const Results& r) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  write(r, f);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

// A run whose strings carry everything a writer must escape: markup, quotes, a line break,
// a '#', a control character and a byte that is not UTF-8 (a plugin's message may hold any).
Results awkward_results() {
  Results r{.command = "check",
            .suite = "check plugin:/x/<a&b>#.so",
            .config = {{"driver", std::string("plugin:/x/<a&b>#.so")}, {"ops", uint64_t{7}}}};
  ResultFinding f{.signature = "return map: #",
                  .check = "return",
                  .op = 2,
                  .message = "op 2 `map`: \"<ret>\" & 'x'\nsecond line \x01 \xff end",
                  .trace = "/t/a.trace",
                  .trace_ops = 2,
                  .seed = 9};
  r.cases.push_back({.name = "a#b",
                     .verdict = Verdict::kFail,
                     .seconds = 1.5,
                     .message = f.message,
                     .findings = {f}});
  r.cases.push_back({.name = "skipped one", .verdict = Verdict::kSkip, .message = "n/a here"});
  r.cases.push_back({.name = "passed one"});
  r.summary = {{"violations", uint64_t{1}}};
  r.exit_code = 1;
  return r;
}

TEST(Results, JsonLinesParseBackWithEveryString) {
  std::istringstream lines(written(write_json, awkward_results()));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 6u);  // run, 3 cases, 1 finding, summary
  EXPECT_EQ(records[0]["type"], "run");
  EXPECT_EQ(records[0]["config"]["driver"], "plugin:/x/<a&b>#.so");
  EXPECT_EQ(records[1]["verdict"], "fail");
  const nlohmann::json& f = records[2];
  EXPECT_EQ(f["type"], "finding");
  EXPECT_EQ(f["case"], "a#b");
  EXPECT_EQ(f["op"], 2);
  EXPECT_EQ(f["trace"], "/t/a.trace");
  // Every byte comes back but the one that is not UTF-8, which is U+FFFD.
  EXPECT_EQ(f["message"], "op 2 `map`: \"<ret>\" & 'x'\nsecond line \x01 \xef\xbf\xbd end");
  EXPECT_EQ(records[3]["verdict"], "skip");
  EXPECT_EQ(records[5]["type"], "summary");
  EXPECT_EQ(records[5]["exit_code"], 1);
  EXPECT_EQ(records[5]["failed"], 1);
  EXPECT_EQ(records[5]["violations"], 1);
}

TEST(Results, XmlEscapesMarkupControlsAndBadUtf8) {
  EXPECT_EQ(xml_escape("<a&b>\"'"), "&lt;a&amp;b&gt;&quot;&apos;");
  EXPECT_EQ(xml_escape("a\nb\tc"), "a&#10;b&#9;c");
  EXPECT_EQ(xml_escape("\x01\x7f"), "\\x01\\x7f");
  EXPECT_EQ(xml_escape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // kept
  EXPECT_EQ(xml_escape("\xff\xc3"), "\\xff\\xc3");           // not UTF-8, cut short
  EXPECT_EQ(xml_escape("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(xml_escape("\xef\xbf\xbf"), "\\xef\\xbf\\xbf");  // U+FFFF
  EXPECT_EQ(xml_escape("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
}

TEST(Results, JunitCountsAndOneResultElementPerCase) {
  const std::string xml = written(write_junit, awkward_results());
  EXPECT_NE(xml.find("<testsuites name=\"iommucheck check\" tests=\"3\" failures=\"1\" "
                     "errors=\"0\" skipped=\"1\""),
            std::string::npos);
  EXPECT_NE(xml.find("<testcase name=\"a#b\" classname=\"check plugin:/x/&lt;a&amp;b&gt;#.so\""),
            std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"op 2 `map`: &quot;&lt;ret&gt;&quot; &amp; &apos;x&apos;"
                     "&#10;second line \\x01 \\xff end\" type=\"return\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"n/a here\"/>"), std::string::npos);
  EXPECT_EQ(xml.find("\x01"), std::string::npos);
}

TEST(Results, KtapResultLinesCarryNoHashBeforeTheirDirective) {
  const std::string ktap = written(write_ktap, awkward_results());
  EXPECT_TRUE(ktap.starts_with("KTAP version 1\n1..3\n")) << ktap;
  EXPECT_NE(ktap.find("\nnot ok 1 a_b\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\nok 2 skipped one # SKIP n/a here\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\nok 3 passed one\n"), std::string::npos) << ktap;
  // The message's line break cannot start a line that is not a diagnostic.
  EXPECT_NE(ktap.find("# VIOLATION: op 2 `map`: \"<ret>\" & 'x'\\x0asecond line"),
            std::string::npos)
      << ktap;
}

TEST(Progress, LineHasCountRateAndEstimate) {
  EXPECT_EQ(Progress::line("check x", 50, 100, std::nullopt, "", 1.0),
            "check x: 50/100 ops (50%), 1.0s, 50.0 ops/s, ETA 1.0s");
  EXPECT_EQ(Progress::line("check x", 1000, 0, 60.0, "", 15.0),
            "check x: 1000 ops, 15.0s, 66.7 ops/s, ETA 45.0s");
  EXPECT_EQ(Progress::line("mutants impl", 3, 20, std::nullopt, "mutants", 12.0),
            "mutants impl: 3/20 mutants (15%), 12.0s, 0.25 mutants/s, ETA 1m08s");
  EXPECT_EQ(Progress::line("check x", 0, 0, std::nullopt, "", 2.0),
            "check x: 0 ops, 2.0s, 0.00 ops/s, ETA ?");
  EXPECT_EQ(duration_text(7384), "2h03m");
}

}  // namespace
}  // namespace iommu::cli
