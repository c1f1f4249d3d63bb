// One short concurrent episode (conform/concurrent.h) on impl, built under ThreadSanitizer by
// scripts/test.sh: the checker's own side of concurrent campaigns (the per-thread recorders,
// the barrier, the table memory's observer) must be free of data races, not only the engine.
#include <gtest/gtest.h>

#include "conform/concurrent.h"
#include "conform/impl_driver.h"

namespace iommu::conform {
namespace {

TEST(ConcurrentTsan, AnEpisodeOnImplIsCleanAndRaceFree) {
  for (uint64_t seed : {1, 2}) {
    const ConcurrentEpisode e = run_concurrent_episode(impl_driver_source("arm-64-lpae-s1-4k"), {},
                                                       {.threads = 3, .seed = seed, .rounds = 200});
    EXPECT_FALSE(e.violation) << e.violation->check << ": " << e.violation->detail;
    EXPECT_EQ(e.ops, 600u);
  }
}

}  // namespace
}  // namespace iommu::conform
