// The baseline file format (conform/baseline.h, docs/LINUX.md "Baselines"): entries match by
// driver and exact signature; a malformed line is an error naming FILE:LINE.
#include "conform/baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
