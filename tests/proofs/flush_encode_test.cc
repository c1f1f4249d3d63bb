// The encoders the proofs reason about (proofs/flush_encode.h, instantiated with uint64_t)
// agree with the hw/ encoders and decoders and impl/'s AMD chunk loop, exhaustively at small
// widths and on random 64-bit inputs; and each flaw a broken variant uses does differ from
// hw/, so these tests would see the proof's model drift.
#include "proofs/flush_encode.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hw/invalidation_encode.h"
#include "impl/iommu_driver.h"
#include "tests/proofs/word_inputs.h"

namespace iommu::proofs {
namespace {

using testing::random_range;
using testing::small_width_values;

constexpr int kRandomRuns = 200000;

// Calls f(start, last) for every ordered small-width pair and kRandomRuns random ones.
template <class F>
void for_ranges(F&& f, int random_runs = kRandomRuns) {
  const std::vector<uint64_t> v = small_width_values(24);
  for (uint64_t a : v)
    for (uint64_t b : v)
      if (a <= b) f(a, b);
  std::mt19937_64 rng(12);
  for (int i = 0; i < random_runs; ++i) {
    auto [a, b] = random_range(rng);
    f(a, b);
  }
}

hw::IovaRange amd_hw_range(uint64_t address) {
  return hw::amd_decode({.op = hw::AmdOp::kInvIommuPages,
                         .address = address & ~uint64_t{0xfff},
                         .size = (address & 1) != 0})
      .range;
}

TEST(FlushEncodeCorrespondence, AmdAddressAndDecodeMatchHw) {
  for_ranges([](uint64_t start, uint64_t last) {
    const uint64_t address = amd_inv_address(start, last);
    ASSERT_EQ(address, hw::amd_inv_address(start, last)) << std::hex << start << " " << last;
    const Span<uint64_t> span = amd_pages_span(address);
    const hw::IovaRange r = amd_hw_range(address);
    ASSERT_EQ(span.first, r.start) << std::hex << address;
    ASSERT_EQ(span.last, r.last) << std::hex << address;
  });
}

TEST(FlushEncodeCorrespondence, AmdDecodeOfEveryAddressWordMatchesHw) {
  std::mt19937_64 rng(3);
  for (uint64_t low = 0; low < (1u << 14); ++low) {
    for (uint64_t high : {uint64_t{0}, ~uint64_t{0} << 26, rng()}) {
      const uint64_t word = (high & ~uint64_t{0x3ffffff}) | (low << 12) | (low & 1);
      const Span<uint64_t> span = amd_pages_span(word);
      const hw::IovaRange r = amd_hw_range(word);
      ASSERT_EQ(span.first, r.start) << std::hex << word;
      ASSERT_EQ(span.last, r.last) << std::hex << word;
    }
  }
}

TEST(FlushEncodeCorrespondence, AmdParenthesisFlawDiffersFromHw) {
  EXPECT_NE(amd_inv_address<uint64_t>(0x0, 0x7fff, AmdFlaw::kParenthesis),
            hw::amd_inv_address(0x0, 0x7fff));
}

// impl's NpCache loop, seen through the commands the AMD encoder sends.
TEST(FlushEncodeCorrespondence, AmdNpCacheChunksMatchImpl) {
  const auto encoder =
      impl::make_amd_encoder({.style = impl::IommuStyle::kAmd, .np_caching = true});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t first = testing::random_word(rng) & ~uint64_t{0xfff};
    const uint64_t pages = 1 + (testing::random_word(rng) % (i % 2 ? 64 : (uint64_t{1} << 39)));
    const uint64_t last = first + (pages << 12) - 1;
    if (last < first) continue;
    std::vector<hw::Command> sent;
    encoder->range(first, last, 0x1000, true, sent);
    uint64_t address = first, size = last - first + 1;
    size_t n = 0;
    while (size != 0) {
      const uint64_t chunk = amd_np_chunk(address, size);
      const Span<uint64_t> span = amd_pages_span(amd_inv_address(address, address + (chunk - 1)));
      ASSERT_LT(n, sent.size());
      ASSERT_EQ(span.first, sent[n].range.start) << std::hex << first << " " << last;
      ASSERT_EQ(span.last, sent[n].range.last) << std::hex << first << " " << last;
      address += chunk;
      size -= chunk;
      ++n;
    }
    ASSERT_EQ(n, sent.size());
  }
}

TEST(FlushEncodeCorrespondence, VtdPsiMatchesHw) {
  for_ranges([](uint64_t start, uint64_t last) {
    const VtdPsi<uint64_t> psi = vtd_psi(start, last);
    const hw::VtdIotlbDesc desc = hw::vtd_encode_range(7, start, last, false, 63);
    ASSERT_EQ(desc.gran, hw::VtdGran::kPage);
    ASSERT_EQ(psi.am, desc.am) << std::hex << start << " " << last;
    ASSERT_EQ(psi.addr, desc.addr) << std::hex << start << " " << last;
    const Span<uint64_t> span = vtd_psi_span(psi.am, psi.addr);
    const hw::IovaRange r = hw::vtd_decode(desc).range;
    ASSERT_EQ(span.first, r.start);
    ASSERT_EQ(span.last, r.last);
  });
}

TEST(FlushEncodeCorrespondence, VtdFlawsDifferFromHw) {
  // pfn 1..2: the aligned block of two pages at pfn 0 does not hold pfn 2.
  const hw::VtdIotlbDesc desc = hw::vtd_encode_range(7, 0x1000, 0x2fff, false, 63);
  EXPECT_NE(vtd_psi<uint64_t>(0x1000, 0x2fff, VtdFlaw::kNoWiden).am, desc.am);
  EXPECT_NE(vtd_psi<uint64_t>(0x1000, 0x2fff, VtdFlaw::kStalePages).am, desc.am);
}

struct SmmuCase {
  unsigned tg;
  bool leaf;
};

// The template's loop, command by command, against hw::smmu_encode_range.
void expect_smmu_matches(uint64_t iova, uint64_t last, uint64_t granule, SmmuCase c,
                         SmmuFlaw flaw = SmmuFlaw::kNone) {
  // Past 2^36 pages the capped SCALE makes one command per 2^36 pages: bound the work.
  if (((last >> c.tg) - (iova >> c.tg)) >> 36 > 256) return;
  const hw::SmmuCmd proto{.op = hw::SmmuOp::kTlbiNhVa, .asid = 3, .leaf = c.leaf};
  const std::vector<hw::SmmuCmd> cmds = hw::smmu_encode_range(
      proto, iova, last - iova + 1, granule, {.range_inv = true, .page_shift = c.tg});
  const SmmuRangeStart<uint64_t> s = smmu_range_start(iova, last, granule, c.leaf, c.tg, flaw);
  uint64_t addr = s.addr, num_pages = s.num_pages;
  size_t n = 0;
  while (num_pages != 0) {
    const SmmuRangeStep<uint64_t> st = smmu_range_step(num_pages);
    ASSERT_LT(n, cmds.size());
    const hw::SmmuCmd& cmd = cmds[n];
    ASSERT_EQ(cmd.addr, addr) << std::hex << iova << " " << last;
    ASSERT_EQ(cmd.scale, st.scale) << std::hex << iova << " " << last;
    ASSERT_EQ(cmd.num + 1u, st.num) << std::hex << iova << " " << last;
    ASSERT_EQ(cmd.ttl, s.ttl) << std::hex << iova << " " << last;
    const hw::Command decoded = hw::smmu_decode(cmd);
    const Span<uint64_t> span = smmu_range_span(addr, st.scale, st.num, c.tg);
    ASSERT_EQ(decoded.range.start, span.first);
    ASSERT_EQ(decoded.range.last, span.last);
    ASSERT_EQ(decoded.leaf_size, smmu_ttl_leaf_size(s.ttl, c.tg));
    addr += st.pages << c.tg;
    num_pages -= st.pages;
    ++n;
  }
  ASSERT_EQ(n, cmds.size());
}

TEST(FlushEncodeCorrespondence, SmmuRangeMatchesHw) {
  std::mt19937_64 rng(9);
  for (unsigned tg : {12u, 14u, 16u}) {
    const std::vector<uint64_t> leaf_sizes = {uint64_t{1} << tg, uint64_t{1} << (2 * tg - 3),
                                              uint64_t{1} << (3 * tg - 6)};
    for (bool leaf : {true, false}) {
      const std::vector<uint64_t> v = small_width_values(40);
      for (uint64_t a : v)
        for (uint64_t b : v)
          if (a <= b && (a != 0 || b != ~uint64_t{0}))
            expect_smmu_matches(a, b, leaf_sizes[(a ^ b) % 3], {tg, leaf});
      for (int i = 0; i < 20000; ++i) {
        auto [a, b] = random_range(rng);
        if (a == 0 && b == ~uint64_t{0}) continue;
        expect_smmu_matches(a, b, leaf_sizes[rng() % 3], {tg, leaf});
      }
    }
  }
}

TEST(FlushEncodeCorrespondence, SmmuFlawsDifferFromHw) {
  // One page, walk flush: hw bumps NUM so the command is valid and sends no TTL.
  const hw::SmmuCmd proto{.op = hw::SmmuOp::kTlbiNhVa, .leaf = false};
  const std::vector<hw::SmmuCmd> cmds =
      hw::smmu_encode_range(proto, 0x5000, 0x1000, 0x1000, {.range_inv = true, .page_shift = 12});
  const auto bump =
      smmu_range_start<uint64_t>(0x5000, 0x5fff, 0x1000, false, 12, SmmuFlaw::kNoNumBump);
  EXPECT_NE(smmu_range_step(bump.num_pages).scale, cmds[0].scale);
  const auto ttl =
      smmu_range_start<uint64_t>(0x5000, 0x5fff, 0x1000, false, 12, SmmuFlaw::kTtlOnWalk);
  EXPECT_NE(ttl.ttl, cmds[0].ttl);
}

// Without range invalidation: the template's count and addresses, command by command, against
// hw::smmu_encode_range (which throws past 2^22 commands: the driver invalidates the ASID).
void expect_single_matches(uint64_t iova, uint64_t last, unsigned shift) {
  const SmmuSingle<uint64_t> s = smmu_single_start(iova, last, shift);
  if (s.count > 4096) return;
  const hw::SmmuCmd proto{.op = hw::SmmuOp::kTlbiNhVa, .asid = 3, .leaf = true};
  const std::vector<hw::SmmuCmd> cmds = hw::smmu_encode_range(
      proto, iova, last - iova + 1, uint64_t{1} << shift, {.range_inv = false});
  ASSERT_EQ(cmds.size(), s.count) << std::hex << iova << " " << last << " " << shift;
  for (uint64_t i = 0; i < s.count; ++i) {
    const hw::SmmuCmd& cmd = cmds[i];
    ASSERT_EQ(cmd.addr, smmu_single_addr(s, i, shift)) << std::hex << iova << " " << last;
    ASSERT_EQ(cmd.tg | cmd.num | cmd.scale | cmd.ttl, 0);
    ASSERT_EQ(hw::smmu_decode(cmd).range.start, cmd.addr & ~uint64_t{0xfff});
  }
}

TEST(FlushEncodeCorrespondence, SmmuSingleAddressMatchesHw) {
  std::mt19937_64 rng(10);
  for (unsigned shift : {12u, 14u, 16u, 21u, 25u, 29u, 30u, 42u}) {
    const std::vector<uint64_t> v = small_width_values(24);
    for (uint64_t a : v)
      for (uint64_t b : v)
        if (a <= b && (a != 0 || b != ~uint64_t{0})) expect_single_matches(a, b, shift);
    for (int i = 0; i < 20000; ++i) {
      auto [a, b] = random_range(rng);
      if (a == 0 && b == ~uint64_t{0}) continue;
      expect_single_matches(a, b, shift);
    }
  }
}

TEST(FlushEncodeCorrespondence, SmmuSingleFlawDiffersFromHw) {
  const hw::SmmuCmd proto{.op = hw::SmmuOp::kTlbiNhVa, .leaf = true};
  const std::vector<hw::SmmuCmd> cmds =
      hw::smmu_encode_range(proto, 0x5000, 0x2000, 0x1000, {.range_inv = false});
  EXPECT_NE(smmu_single_start<uint64_t>(0x5000, 0x6fff, 12, SmmuSingleFlaw::kNoLastPage).count,
            cmds.size());
}

}  // namespace
}  // namespace iommu::proofs
