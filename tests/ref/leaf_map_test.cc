#include <gtest/gtest.h>

#include "ref/leaf_map.h"

namespace iommu::ref {
namespace {

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;

TEST(LeafMap, LookupFindsTheLeafInsideARun) {
  LeafMap m(K4 | M2 | G1);
  m.insert({M2, 0x80000000, M2, 3, 1});
  const auto leaf = m.leaf_at(2 * M2 + 5);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(*leaf, (LeafInfo{2 * M2, 0x80200000, M2, 1}));
  EXPECT_FALSE(m.leaf_at(M2 - 1));
  EXPECT_FALSE(m.leaf_at(4 * M2));
  EXPECT_TRUE(m.intersects(0, M2));
  EXPECT_FALSE(m.intersects(0, M2 - 1));
}

TEST(LeafMap, EraseKeepsWholeLeavesAndSplitsCutOnes) {
  LeafMap m(K4 | M2 | G1);
  m.insert({0, 0, M2, 4, 3});
  m.erase(M2 + K4, 2 * M2 + K4 - 1);  // cuts leaf 1 after its first page, leaf 2 likewise
  EXPECT_EQ(m.leaf_at(0)->pgsize, M2);
  EXPECT_EQ(*m.leaf_at(M2), (LeafInfo{M2, M2, K4, 3}));
  EXPECT_FALSE(m.leaf_at(M2 + K4));
  EXPECT_FALSE(m.leaf_at(2 * M2));
  EXPECT_EQ(*m.leaf_at(2 * M2 + K4), (LeafInfo{2 * M2 + K4, 2 * M2 + K4, K4, 3}));
  EXPECT_EQ(m.leaf_at(3 * M2)->pgsize, M2);
}

TEST(LeafMap, RunEndingAtTheTopOfTheSpace) {
  LeafMap m(K4);
  const uint64_t start = ~uint64_t{0} - 4 * K4 + 1;
  m.insert({start, 0, K4, 4, 1});
  EXPECT_EQ(m.leaf_at(~uint64_t{0})->iova, ~uint64_t{0} - K4 + 1);
  m.erase(start + K4, ~uint64_t{0});
  EXPECT_EQ(m.run_count(), 1u);
  EXPECT_FALSE(m.leaf_at(~uint64_t{0}));
}

}  // namespace
}  // namespace iommu::ref
