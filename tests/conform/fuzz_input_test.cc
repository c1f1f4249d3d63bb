// The differential fuzz target's input decoder: every byte string is a trace that prints,
// parses back, and replays on our engine without a violation.
#include "conform/fuzz_input.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "conform/campaign.h"
#include "conform/registry.h"

namespace iommu::conform {
namespace {

RC_GTEST_PROP(FuzzInput, EveryInputIsAReplayableTrace, (const std::vector<uint8_t>& bytes)) {
  const Trace t = decode_fuzz_input(bytes);
  RC_ASSERT(t.driver.has_value());
  RC_ASSERT(t.ops.size() <= kMaxFuzzOps);
  RC_ASSERT(parse_trace(format_trace(t)) == t);
  const auto v = replay_ops(configured_source(t, *t.driver), t.ops);
  RC_ASSERT(!v.has_value());
}

TEST(FuzzInput, SameBytesSameTrace) {
  const std::vector<uint8_t> bytes = {7, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  EXPECT_EQ(decode_fuzz_input(bytes), decode_fuzz_input(bytes));
  EXPECT_EQ(decode_fuzz_input({}).ops.size(), 0u);
}

TEST(FuzzInput, ConfiguredSourceFollowsTheDomainPartOfTheConfig) {
  Trace t = decode_fuzz_input(std::vector<uint8_t>{0, 1, 1, 1});
  ASSERT_TRUE(t.driver->starts_with("impl:"));
  const DriverSource src = configured_source(t, *t.driver);
  EXPECT_EQ(src.info.config.partial_unmap, t.config->partial_unmap);
  EXPECT_EQ(src.info.config.invalidation, t.config->invalidation);
  EXPECT_EQ(src.info.config.np_caching, t.config->np_caching);
  t.config->ias = 39;
  EXPECT_THROW(configured_source(t, *t.driver), DriverError);
}

}  // namespace
}  // namespace iommu::conform
