// The baseline file format (conform/baseline.h, docs/LINUX.md "Baselines"): entries match by
// driver and signature (* any run of characters); a malformed line is an error naming
// FILE:LINE.
#include "conform/baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace iommu::conform {
namespace {

using testing::HasSubstr;

constexpr const char* kText =
    "# io-pgtable-arm-v7s.c:551, docs/LINUX.md finding 4\n"
    "known linux:arm-v7s driver-call map: returned # with mapped=#\n"
    "\n"
    "   # indented comment\n"
    "known * warn drivers/iommu/io-pgtable-arm.c:#\n";

TEST(Baseline, MatchesByDriverAndExactSignature) {
  const Baseline b = Baseline::parse(kText, "b.baseline");
  const BaselineEntry* e = b.find("linux:arm-v7s", "driver-call map: returned # with mapped=#");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->line, 2u);
  EXPECT_EQ(b.find("linux:apple-dart", "driver-call map: returned # with mapped=#"), nullptr);
  EXPECT_EQ(b.find("linux:arm-v7s", "driver-call map: returned #"), nullptr);
  ASSERT_NE(b.find("linux:apple-dart", "warn drivers/iommu/io-pgtable-arm.c:#"), nullptr);
}

TEST(Baseline, StarMatchesAnyRun) {
  const Baseline b = Baseline::parse(
      "known linux:arm-64-* stale *: reached # with perms *; ref allows a fault\n", "b");
  EXPECT_NE(b.find("linux:arm-64-lpae-s1-4k",
                   "stale unmap: reached # with perms r-x; ref allows "
                   "a fault"),
            nullptr);
  EXPECT_EQ(b.find("linux:arm-32-lpae-s1",
                   "stale unmap: reached # with perms r-x; ref allows "
                   "a fault"),
            nullptr);
  EXPECT_EQ(b.find("linux:arm-64-lpae-s1-4k", "stale unmap: reached # with perms r-x"), nullptr);
}

// The backtracking of *: the text after a * is matched anew from each later position, never
// from where it started matching, never over text the pattern before the * already took; a
// trailing * matches nothing too.
TEST(Baseline, StarBacktracksOnlyForward) {
  const Baseline b = Baseline::parse(
      "known linux:x warn ab*ba\nknown linux:x warn *ab\nknown linux:x warn abc*\n", "b");
  EXPECT_EQ(b.find("linux:x", "warn aba"), nullptr);
  EXPECT_NE(b.find("linux:x", "warn abba"), nullptr);
  EXPECT_EQ(b.find("linux:x", "warn axb"), nullptr);
  EXPECT_NE(b.find("linux:x", "warn acab"), nullptr);
  EXPECT_NE(b.find("linux:x", "warn abc"), nullptr);
}

TEST(Baseline, AnyDriverKindOfOneLetterOrMore) {
  const Baseline b = Baseline::parse("known x:y warn z\n", "b.baseline");
  EXPECT_NE(b.find("x:y", "warn z"), nullptr);
  EXPECT_EQ(b.path(), "b.baseline");
}

TEST(Baseline, BlanksAroundALineAreNotPartOfIt) {
  const Baseline b = Baseline::parse("  known linux:x warn y \t\n", "b");
  EXPECT_NE(b.find("linux:x", "warn y"), nullptr);
}

TEST(Baseline, LoadsAFile) {
  const std::string path = testing::TempDir() + "/loads.baseline";
  std::ofstream(path) << kText;
  const Baseline b = Baseline::load(path);
  EXPECT_EQ(b.path(), path);
  EXPECT_NE(b.find("linux:arm-v7s", "driver-call map: returned # with mapped=#"), nullptr);
}

void expect_error(const std::string& text, const std::string& what) {
  try {
    Baseline::parse(text, "bad.baseline");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const BaselineError& e) {
    EXPECT_THAT(e.what(), HasSubstr(what)) << text;
  }
}

TEST(Baseline, MalformedLinesNameFileAndLine) {
  expect_error("# ok\nknwon linux:arm-v7s warn x.c:1\n", "bad.baseline:2: expected `known");
  expect_error("known arm-v7s warn x.c:1\n", "bad.baseline:1: `arm-v7s` is not a driver");
  expect_error("known\n", "bad.baseline:1: `` is not a driver");
  expect_error("known :arm-v7s warn x.c:1\n", "bad.baseline:1: `:arm-v7s` is not a driver");
  expect_error("known linux: warn x.c:1\n", "bad.baseline:1: `linux:` is not a driver");
  expect_error("known linux:arm-v7s\n", "bad.baseline:1: missing the finding's signature");
  expect_error("known linux:arm-v7s warn\n", "bad.baseline:1: missing the finding's signature");
  expect_error("known * warn x.c:1\nknown * warn x.c:1\n",
               "bad.baseline:2: the same entry as "
               "line 1");
}

TEST(Baseline, UnreadableFileIsAnError) {
  EXPECT_THROW(Baseline::load("/nonexistent/x.baseline"), BaselineError);
}

}  // namespace
}  // namespace iommu::conform
