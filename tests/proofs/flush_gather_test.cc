// The gather rules the proofs reason about (proofs/flush_gather.h with uint64_t) agree with
// impl::iotlb_gather_add_page and impl::amd_iotlb_gather_add_page on every small-width
// gather and page, near the top of the space and on random 64-bit values; the flaw of
// gather-linux-covers/drops-disjoint is impl's kGatherDropsDisjoint mutant.
#include "proofs/flush_gather.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

#include "impl/gather.h"
#include "tests/proofs/word_inputs.h"

namespace iommu::proofs {
namespace {

struct Observed {
  std::optional<impl::IotlbGather> synced;
  impl::IotlbGather next;
};

Observed run_impl(const impl::IotlbGather& g, uint64_t iova, uint64_t size, int amd_np,
                  impl::Mutant bug) {
  Observed o{std::nullopt, g};
  auto sync = [&](impl::IotlbGather& s) { o.synced = s; };
  if (amd_np < 0) {
    impl::iotlb_gather_add_page(o.next, iova, size, sync, bug);
  } else {
    impl::amd_iotlb_gather_add_page(o.next, iova, size, amd_np != 0, sync);
  }
  return o;
}

// amd_np: -1 for Linux's rule, else AMD's with NpCache off (0) or on (1). `bug`: impl's
// seeded bug for the flaw.
::testing::AssertionResult agree(const impl::IotlbGather& g, uint64_t iova, uint64_t size,
                                 int amd_np, GatherFlaw flaw = GatherFlaw::kNone,
                                 impl::Mutant bug = impl::Mutant::kNone) {
  const Observed o = run_impl(g, iova, size, amd_np, bug);
  const Gather<uint64_t> mine{g.start, g.end, g.pgsize};
  const AddPage<uint64_t> m = amd_np < 0 ? linux_add_page(mine, iova, size, flaw)
                                         : amd_add_page(mine, iova, size, amd_np != 0, flaw);
  const bool same =
      o.synced.has_value() == m.synced &&
      (!m.synced || (o.synced->start == m.sync_arg.start && o.synced->end == m.sync_arg.end &&
                     o.synced->pgsize == m.sync_arg.pgsize)) &&
      o.next.start == m.next.start && o.next.end == m.next.end && o.next.pgsize == m.next.pgsize;
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << std::hex << "gather [" << g.start << ", " << g.end << "] pgsize " << g.pgsize
         << ", page " << iova << " size " << size << ", rule " << amd_np;
}

std::vector<impl::IotlbGather> small_gathers() {
  std::vector<impl::IotlbGather> out{impl::IotlbGather{}};
  const std::vector<uint64_t> v = testing::small_width_values(6);
  for (uint64_t a : v)
    for (uint64_t b : v)
      if (a <= b)
        for (uint64_t pgsize : {uint64_t{0x1000}, uint64_t{0x2000}, uint64_t{1}})
          out.push_back({.start = a, .end = b, .pgsize = pgsize});
  return out;
}

TEST(FlushGatherCorrespondence, SmallWidthsAndTopOfSpace) {
  const std::vector<uint64_t> v = testing::small_width_values(6);
  for (const impl::IotlbGather& g : small_gathers())
    for (uint64_t iova : v)
      for (uint64_t size : {uint64_t{1}, uint64_t{0x1000}, uint64_t{0x2000}})
        for (int rule : {-1, 0, 1}) ASSERT_TRUE(agree(g, iova, size, rule));
}

TEST(FlushGatherCorrespondence, Random64Bit) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 300000; ++i) {
    auto [start, end] = testing::random_range(rng);
    const impl::IotlbGather g{
        .start = start, .end = end, .pgsize = i % 7 == 0 ? 0 : uint64_t{1} << (rng() % 40)};
    const uint64_t size = uint64_t{1} << (rng() % 40);
    const uint64_t iova = rng() % 2 ? testing::random_word(rng) : end + 1 + (rng() % 3) * size;
    ASSERT_TRUE(agree(g, iova, size, static_cast<int>(i % 3) - 1));
  }
}

TEST(FlushGatherCorrespondence, DropsDisjointFlawIsImplsMutant) {
  for (const impl::IotlbGather& g : small_gathers())
    for (uint64_t iova : testing::small_width_values(6))
      ASSERT_TRUE(agree(g, iova, 0x1000, -1, GatherFlaw::kDropsDisjoint,
                        impl::Mutant::kGatherDropsDisjoint));
}

TEST(FlushGatherCorrespondence, FlawsDifferFromImpl) {
  const impl::IotlbGather g{.start = 0x1000, .end = 0x1fff, .pgsize = 0x1000};
  EXPECT_FALSE(agree(g, 0x9000, 0x1000, -1, GatherFlaw::kDropsDisjoint));
  EXPECT_FALSE(agree(g, 0x2000, 0x2000, -1, GatherFlaw::kIgnoresPgsize));
  EXPECT_FALSE(agree(g, 0x9000, 0x1000, 1, GatherFlaw::kDropsDisjoint));
}

}  // namespace
}  // namespace iommu::proofs
