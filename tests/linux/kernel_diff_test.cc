// `diff` between two kernel trees (conform/kernel_diff.h): every differing op of a stream is
// found, not only the first of each episode. docs/LINUX.md "diff".
#include "conform/kernel_diff.h"

#include <gtest/gtest.h>

#include "conform/linux_driver.h"
#include "tests/linux/kernel_trees.h"

namespace iommu::conform {
namespace {

DiffReport diff_612_72(uint64_t ops) {
  const std::string old_dir = testing_linux::kernel_tree("6_12");
  const std::string new_dir = testing_linux::kernel_tree("SID");
  DiffOptions o;
  o.seed = 3;
  o.ops = ops;
  o.episode_ops = ops;  // one episode
  o.minimize_tests = 50;
  return diff_drivers(linux_driver_source("arm-64-lpae-s1-4k", old_dir),
                      linux_driver_source("arm-64-lpae-s1-4k", new_dir), o);
}

TEST(KernelDiff, FindsEveryDifferingOpOfAnEpisode) {
  REQUIRE_KERNEL_VERSION(old_dir, "6_12");
  REQUIRE_KERNEL_VERSION(new_dir, "SID");
  const DiffReport r = diff_612_72(600);
  EXPECT_EQ(r.episodes, 1u);
  EXPECT_EQ(r.ops, 600u);  // the skipped ops count: each was compared
  uint64_t differing = 0;
  for (const DiffGroup& g : r.groups) {
    EXPECT_EQ(g.episodes, 1u) << g.kind;
    EXPECT_FALSE(g.ops.empty()) << g.kind;
    differing += g.ops_differing;
  }
  // 6.12 splits, 7.2 refuses: a hostile stream makes many partial unmaps of blocks.
  EXPECT_GT(differing, 1u);
}

}  // namespace
}  // namespace iommu::conform
