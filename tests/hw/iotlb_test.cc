// IOTLB behaviour: what each mode keeps, which invalidations remove which entries, and how a
// cached fault hides a later mapping.
#include "hw/iotlb.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <variant>

#include "hw/invalidation.h"
#include "hw/invalidation_encode.h"
#include "hw/invalidation_queue.h"
#include "hw/walk_cache.h"

namespace iommu::hw {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;

Leaf leaf(uint64_t iova, uint64_t paddr, uint64_t size) {
  return {.iova_base = iova, .paddr_base = paddr, .size = size, .perms = {.read = true}};
}

Iotlb adversarial(bool cache_faults = false) {
  return Iotlb({.cache = {.mode = CacheMode::kAdversarial}, .cache_faults = cache_faults});
}

Command leaf_range(ContextId ctx, uint64_t start, uint64_t last) {
  return Command::by_range(ctx, {start, last}, true);
}

TEST(Iotlb, HitAnywhereInsideTheLeaf) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(0x40000000, 0x80000000, k2M));
  auto hit = tlb.lookup(1, 0x40123456);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(std::get<Leaf>(*hit).paddr_base, 0x80000000u);
  EXPECT_FALSE(tlb.lookup(1, 0x40200000).has_value());
}

TEST(Iotlb, EntriesInListsEveryOverlappingEntry) {
  Iotlb tlb = adversarial(true);
  tlb.insert(1, leaf(0x40000000, 0x80000000, k2M));
  tlb.insert(1, leaf(0x40200000, 0x90000000, k4K));
  tlb.insert(1, leaf(0x40201000, 0x90001000, k4K));
  tlb.insert(2, leaf(0x40200000, 0x90000000, k4K));
  tlb.insert_fault(1, 0x40202000, k4K);
  EXPECT_EQ(tlb.entries_in(1, 0x401ff000, 0x40200fff).size(), 2u);
  EXPECT_EQ(tlb.entries_in(1, 0x40000000, 0x40202fff).size(), 4u);
  EXPECT_EQ(tlb.entries_in(1, 0x40203000, 0x7fffffff).size(), 0u);
  EXPECT_EQ(tlb.entries_in(3, 0, ~uint64_t{0}).size(), 0u);
}

TEST(Iotlb, AdversarialKeepsEverythingUntilCovered) {
  Iotlb tlb = adversarial();
  for (uint64_t i = 0; i < 4096; ++i) tlb.insert(1, leaf(i * k4K, i * k4K, k4K));
  EXPECT_EQ(tlb.size(), 4096u);
  EXPECT_EQ(tlb.invalidate(leaf_range(1, 0x1000, 0x2fff)), 2u);
  EXPECT_EQ(tlb.invalidate(Command::sync()), 0u);
  EXPECT_FALSE(tlb.lookup(1, 0x1000).has_value());
  EXPECT_FALSE(tlb.lookup(1, 0x2fff).has_value());
  EXPECT_TRUE(tlb.lookup(1, 0x0).has_value());
  EXPECT_TRUE(tlb.lookup(1, 0x3000).has_value());
  EXPECT_EQ(tlb.size(), 4094u);
}

TEST(Iotlb, RangeEndingOnAnEntryBaseHitsIt) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(0x5000, 0, k4K));
  EXPECT_EQ(tlb.invalidate(leaf_range(1, 0x4800, 0x5000)), 1u);
}

TEST(Iotlb, FourKInvalidationInsideBlockRemovesIt) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(k2M, 0, k2M));
  EXPECT_EQ(tlb.invalidate(leaf_range(1, k2M + 0x5000, k2M + 0x5fff)), 1u);
  EXPECT_FALSE(tlb.lookup(1, k2M).has_value());
}

TEST(Iotlb, SmmuTtlHintForPagesKeepsBlock) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(k2M, 0, k2M));
  auto cmds =
      smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .asid = 1, .leaf = true}, k2M, k2M, k4K, {});
  for (const SmmuCmd& c : cmds) tlb.invalidate(smmu_decode(c));
  EXPECT_TRUE(tlb.lookup(1, k2M).has_value()) << "TTL=3 names 4K leaves, not the 2M block";
  cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .asid = 1, .leaf = true}, k2M, k2M, k2M, {});
  for (const SmmuCmd& c : cmds) tlb.invalidate(smmu_decode(c));
  EXPECT_FALSE(tlb.lookup(1, k2M).has_value());
}

TEST(Iotlb, VtdPsiMustCoverTheSuperpage) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(k2M, 0, k2M));
  tlb.invalidate(vtd_decode(vtd_encode_range(1, k2M, k2M + k4K - 1, true, 63)));
  EXPECT_TRUE(tlb.lookup(1, k2M).has_value()) << "AM=0 does not cover a 2M page";
  tlb.invalidate(vtd_decode(vtd_encode_range(1, k2M, 2 * k2M - 1, true, 63)));
  EXPECT_FALSE(tlb.lookup(1, k2M).has_value());
}

TEST(Iotlb, ContextIsolation) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(0, 0x1000, k4K));
  tlb.insert(2, leaf(0, 0x2000, k4K));
  EXPECT_EQ(std::get<Leaf>(*tlb.lookup(2, 0)).paddr_base, 0x2000u);
  tlb.invalidate(leaf_range(1, 0, k4K - 1));
  EXPECT_FALSE(tlb.lookup(1, 0).has_value());
  EXPECT_TRUE(tlb.lookup(2, 0).has_value());
  tlb.insert(1, leaf(0, 0x1000, k4K));
  tlb.invalidate(Command::context(2));
  EXPECT_TRUE(tlb.lookup(1, 0).has_value());
  EXPECT_FALSE(tlb.lookup(2, 0).has_value());
  tlb.insert(2, leaf(0, 0x2000, k4K));
  EXPECT_EQ(tlb.invalidate(Command::all()), 2u);
  EXPECT_EQ(tlb.size(), 0u);
}

TEST(Iotlb, StaleBlockBesidePagesShowsBoth) {
  Iotlb tlb = adversarial();
  tlb.insert(1, leaf(0, 0x40000000, k2M));
  tlb.insert(1, leaf(0x3000, 0x9000, k4K));
  EXPECT_EQ(std::get<Leaf>(*tlb.lookup(1, 0x3000)).size, k4K);
  EXPECT_EQ(tlb.lookup_all(1, 0x3000).size(), 2u);
  EXPECT_EQ(tlb.lookup_all(1, 0x4000).size(), 1u);
}

TEST(Iotlb, OffCachesNothing) {
  Iotlb tlb({.cache = {.mode = CacheMode::kOff}, .cache_faults = true});
  tlb.insert(1, leaf(0, 0, k4K));
  tlb.insert_fault(1, 0x5000, k4K);
  EXPECT_EQ(tlb.size(), 0u);
  EXPECT_FALSE(tlb.lookup(1, 0).has_value());
}

TEST(Iotlb, RealisticRespectsCapacity) {
  Iotlb tlb({.cache = {.mode = CacheMode::kRealistic, .capacity = 16, .seed = 7}});
  for (uint64_t i = 0; i < 1000; ++i) {
    tlb.insert(1, leaf(i * k4K, 0, k4K));
    ASSERT_LE(tlb.size(), 16u);
  }
  EXPECT_EQ(tlb.size(), 16u);
  EXPECT_TRUE(tlb.lookup(1, 999 * k4K).has_value()) << "the newest entry is never the victim";
}

std::vector<uint64_t> survivors(uint64_t seed) {
  Iotlb tlb({.cache = {.mode = CacheMode::kRealistic, .capacity = 32, .seed = seed}});
  for (uint64_t i = 0; i < 500; ++i) {
    tlb.insert(static_cast<ContextId>(i % 3), leaf(i * k4K, 0, k4K));
    if (i % 50 == 0) tlb.invalidate(leaf_range(1, 0, i * k4K));
  }
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < 500; ++i) {
    if (tlb.lookup(static_cast<ContextId>(i % 3), i * k4K)) out.push_back(i);
  }
  return out;
}

TEST(Iotlb, RealisticIsReproducibleForASeed) {
  EXPECT_EQ(survivors(42), survivors(42));
  EXPECT_NE(survivors(42), survivors(43));
  EXPECT_THROW(Iotlb({.cache = {.mode = CacheMode::kRealistic, .capacity = 0}}),
               std::invalid_argument);
}

TEST(Iotlb, CachedFaultHidesNewMappingUntilInvalidated) {
  Iotlb tlb = adversarial(true);
  tlb.insert_fault(1, 0x7123, k4K);
  auto hit = tlb.lookup(1, 0x7000);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(std::get<CachedFault>(*hit), (CachedFault{0x7000, k4K}));
  // The driver maps 0x7000 but skips iotlb_sync_map: the device still sees the fault.
  tlb.invalidate(leaf_range(1, 0x8000, 0x8fff));
  EXPECT_TRUE(std::holds_alternative<CachedFault>(*tlb.lookup(1, 0x7000)));
  tlb.invalidate(amd_decode(amd_encode_range(1, 0x7000, 0x7fff, false)));
  EXPECT_FALSE(tlb.lookup(1, 0x7000).has_value());
}

TEST(Iotlb, FaultsNotCachedWithoutCachingMode) {
  Iotlb tlb = adversarial(false);
  tlb.insert_fault(1, 0x7000, k4K);
  EXPECT_FALSE(tlb.lookup(1, 0x7000).has_value());
}

TEST(Iotlb, RejectsNonPowerOfTwoLeaf) {
  Iotlb tlb = adversarial();
  EXPECT_THROW(tlb.insert(1, leaf(0, 0, 0x3000)), std::invalid_argument);
  EXPECT_THROW(tlb.insert(1, leaf(0x1000, 0, k2M)), std::invalid_argument);
}

TEST(InvalidationQueue, CommandsTakeEffectAtSync) {
  Iotlb tlb = adversarial();
  WalkCache walk;
  InvalidationQueue queue(tlb, walk);
  tlb.insert(1, leaf(0, 0, k4K));
  walk.insert(1, 0, {2, 0x5000, k2M, 3});
  queue.issue(Command::by_range(1, {0, k2M - 1}, false));
  EXPECT_EQ(queue.pending(), 1u);
  EXPECT_TRUE(tlb.lookup(1, 0).has_value()) << "not complete before the sync";
  EXPECT_TRUE(walk.lookup_deepest(1, 0).has_value());
  queue.issue(Command::sync());
  EXPECT_EQ(queue.pending(), 0u);
  EXPECT_FALSE(tlb.lookup(1, 0).has_value());
  EXPECT_FALSE(walk.lookup_deepest(1, 0).has_value());
}

}  // namespace
}  // namespace iommu::hw
