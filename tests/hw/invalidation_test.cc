// Invalidation commands: golden bit encodings computed by hand from the kernel headers, and the
// coverage property (what the emitted commands invalidate contains what was asked) checked
// exhaustively on a small space and randomly on 64-bit ranges.
#include "hw/invalidation.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <vector>

#include "base/bits.h"
#include "hw/invalidation_amd.h"
#include "hw/invalidation_encode.h"
#include "hw/invalidation_riscv.h"
#include "hw/invalidation_smmu.h"
#include "hw/invalidation_vtd.h"

namespace iommu::hw {
namespace {

constexpr unsigned kSmallPages = 1024;  // exhaustive space: every [start, end] page pair

// Whether the union of rs contains every byte of want.
bool union_covers(std::vector<IovaRange> rs, IovaRange want) {
  std::sort(rs.begin(), rs.end(), [](auto a, auto b) { return a.start < b.start; });
  uint64_t next = want.start;
  for (const IovaRange& r : rs) {
    if (r.start > next) return false;
    if (r.last >= want.last) return true;
    if (r.last >= next) next = r.last + 1;
  }
  return false;
}

std::vector<IovaRange> decoded_ranges(const std::vector<SmmuCmd>& cmds) {
  std::vector<IovaRange> out;
  for (const SmmuCmd& c : cmds) out.push_back(smmu_decode(smmu_unpack(smmu_pack(c))).range);
  return out;
}

IovaRange vtd_covered(uint64_t start, uint64_t last, unsigned mamv) {
  Command cmd = vtd_decode(vtd_unpack(vtd_pack(vtd_encode_range(1, start, last, false, mamv))));
  return cmd.kind == CommandKind::kContext ? IovaRange::everything() : cmd.range;
}

IovaRange amd_covered(uint64_t start, uint64_t last) {
  return amd_decode(amd_unpack(amd_pack(amd_encode_range(1, start, last, true)))).range;
}

// The smallest aligned power-of-two block of 4K pages holding [start, last].
IovaRange min_aligned_block(uint64_t start, uint64_t last) {
  uint64_t diff = (start >> 12) ^ (last >> 12);
  unsigned shift = 12 + (diff == 0 ? 0 : fls64_idx(diff) + 1);
  if (shift >= 64) return IovaRange::everything();
  return {start & ~low_mask(shift), start | low_mask(shift)};
}

// A random inclusive range anywhere in 64 bits, with lengths of every magnitude.
IovaRange gen_range() {
  uint64_t start = *rc::gen::arbitrary<uint64_t>();
  unsigned len_bits = *rc::gen::inRange(0u, 65u);
  uint64_t len = *rc::gen::arbitrary<uint64_t>() & low_mask(len_bits);
  return {start, start + std::min(len, ~uint64_t{0} - start)};
}

const SmmuCmd kNhVa{.op = SmmuOp::kTlbiNhVa, .asid = 5};

TEST(Command, HitsOnlyItsContext) {
  Command range = Command::by_range(1, {0, 0xfff}, false);
  EXPECT_TRUE(range.hits_leaf(1, 0, 0x1000));
  EXPECT_FALSE(range.hits_leaf(2, 0, 0x1000));
  EXPECT_FALSE(range.hits_table(2, 0, 0x200000));
  EXPECT_TRUE(Command::context(1).hits_leaf(1, 0, 0x1000));
  EXPECT_FALSE(Command::context(1).hits_leaf(2, 0, 0x1000));
  EXPECT_FALSE(Command::context(1).hits_table(2, 0, 0x200000));
  EXPECT_TRUE(Command::all().hits_table(2, 0, 0x200000));
  EXPECT_FALSE(Command::sync().hits_leaf(1, 0, 0x1000));
}

TEST(Command, LeafOnlyRangeSparesTables) {
  Command leaf = Command::by_range(1, {0x1000, 0x1fff}, true);
  EXPECT_TRUE(leaf.hits_leaf(1, 0, 0x200000));
  EXPECT_FALSE(leaf.hits_table(1, 0, 0x200000));
  EXPECT_TRUE(Command::by_range(1, {0x1000, 0x1fff}, false).hits_table(1, 0, 0x200000));
}

// --- Arm SMMUv3 -------------------------------------------------------------------------------

TEST(SmmuWire, GoldenNhVaRange) {
  SmmuCmd cmd = kNhVa;
  cmd.num = 3, cmd.scale = 2, cmd.ttl = 3, cmd.tg = 1, cmd.leaf = true, cmd.addr = 0x12345000;
  SmmuWords w = smmu_pack(cmd);
  EXPECT_EQ(w[0], 0x0005000000203012u);  // ASID 63:48, SCALE 24:20, NUM 16:12, op 0x12
  EXPECT_EQ(w[1], 0x12345701u);          // addr, TG 11:10 = 1, TTL 9:8 = 3, Leaf bit 0
  EXPECT_EQ(smmu_unpack(w), cmd);
  Command d = smmu_decode(cmd);
  EXPECT_EQ(d.kind, CommandKind::kRange);
  EXPECT_EQ(d.ctx, 5u);
  EXPECT_EQ(d.range, (IovaRange{0x12345000, 0x12354fff}));  // (3 + 1) * 2^2 pages of 4K
  EXPECT_TRUE(d.leaf_only);
  EXPECT_EQ(d.leaf_size, 0x1000u);
}

TEST(SmmuWire, GoldenS2IpaMasksAboveBit51) {
  SmmuCmd cmd{.op = SmmuOp::kTlbiS2Ipa, .vmid = 7, .addr = 0x1000000000001000};
  SmmuWords w = smmu_pack(cmd);
  EXPECT_EQ(w[0], 0x000000070000002au);
  EXPECT_EQ(w[1], 0x1000u);
  Command d = smmu_decode(smmu_unpack(w));
  EXPECT_EQ(d.ctx, 7u);
  EXPECT_EQ(d.range, (IovaRange{0x1000, 0x1fff}));
  EXPECT_FALSE(d.leaf_only);
}

TEST(SmmuWire, GoldenTtlNamesBlockSizes) {
  SmmuCmd cmd = kNhVa;
  cmd.tg = 1, cmd.ttl = 2, cmd.addr = 0x200000;
  EXPECT_EQ(smmu_decode(cmd).leaf_size, 0x200000u);
  cmd.tg = 3, cmd.ttl = 2;
  EXPECT_EQ(smmu_decode(cmd).leaf_size, 0x20000000u);  // 512M blocks with 64K pages
}

TEST(SmmuWire, ContextAndSyncCommands) {
  EXPECT_EQ(smmu_decode({.op = SmmuOp::kTlbiNhAsid, .asid = 9}).kind, CommandKind::kContext);
  EXPECT_EQ(smmu_decode({.op = SmmuOp::kTlbiNhAsid, .asid = 9}).ctx, 9u);
  EXPECT_EQ(smmu_decode({.op = SmmuOp::kTlbiS12Vmall, .vmid = 4}).ctx, 4u);
  EXPECT_EQ(smmu_decode({.op = SmmuOp::kTlbiNsnhAll}).kind, CommandKind::kAll);
  EXPECT_EQ(smmu_decode(smmu_unpack(smmu_pack({.op = SmmuOp::kCmdSync}))).kind, CommandKind::kSync);
  EXPECT_THROW(smmu_unpack({0x99, 0}), std::invalid_argument);
}

TEST(SmmuWire, RejectsReservedRangeForm) {
  SmmuCmd cmd = kNhVa;
  cmd.tg = 1, cmd.addr = 0x1000;  // NUM = SCALE = TTL = 0
  EXPECT_THROW(smmu_decode(cmd), std::invalid_argument);
  cmd.ttl = 3;
  EXPECT_NO_THROW(smmu_decode(cmd));
  SmmuCmd single = kNhVa;
  single.scale = 1;  // TG = 0 takes no range fields
  EXPECT_THROW(smmu_decode(single), std::invalid_argument);
}

TEST(SmmuEncode, GoldenSplitByFiveBitChunks) {
  auto cmds =
      smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = true}, 0x10000, 35 * 0x1000, 0x1000, {});
  ASSERT_EQ(cmds.size(), 2u);  // 35 = 0b100011: 3 pages at scale 0, then 1 x 2^5 pages
  EXPECT_EQ(cmds[0].addr, 0x10000u);
  EXPECT_EQ(cmds[0].num, 2);
  EXPECT_EQ(cmds[0].scale, 0);
  EXPECT_EQ(cmds[0].ttl, 3);
  EXPECT_EQ(cmds[0].tg, 1);
  EXPECT_EQ(cmds[1].addr, 0x13000u);
  EXPECT_EQ(cmds[1].num, 0);
  EXPECT_EQ(cmds[1].scale, 5);
}

TEST(SmmuEncode, WalkFlushOfOnePageAvoidsReservedForm) {
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa}, 0x5000, 0x1000, 0x1000, {});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].num, 0);
  EXPECT_EQ(cmds[0].scale, 1);  // two pages: NUM = SCALE = TTL = 0 is reserved
  EXPECT_EQ(cmds[0].ttl, 0);
  EXPECT_EQ(smmu_decode(cmds[0]).range, (IovaRange{0x5000, 0x6fff}));
}

TEST(SmmuEncode, LeafTtlFollowsGranule) {
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = true}, 0x40000000, 0x400000,
                                0x200000, {});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].ttl, 2);
  EXPECT_EQ(smmu_decode(cmds[0]).leaf_size, 0x200000u);
  EXPECT_THROW(smmu_encode_range({.leaf = true}, 0, 0x1000, 0x3000, {}), std::invalid_argument);
}

TEST(SmmuEncode, ScaleAboveFieldIsChunked) {
  uint64_t size = uint64_t{1} << 45;  // 2^33 pages: SCALE 33 does not fit five bits
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa}, 0, size, 0x1000, {});
  for (const SmmuCmd& c : cmds) EXPECT_LE(c.scale, 31);
  EXPECT_TRUE(union_covers(decoded_ranges(cmds), {0, size - 1}));
}

TEST(SmmuEncode, SingleAddressFormOnePerGranule) {
  SmmuRangeCaps caps{.range_inv = false};
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = true}, 0x200000, 0x400000,
                                0x200000, caps);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].tg, 0);
  EXPECT_EQ(cmds[1].addr, 0x400000u);
  Command second = smmu_decode(cmds[1]);
  EXPECT_TRUE(second.hits_leaf(0, 0x400000, 0x200000));
  EXPECT_FALSE(second.hits_leaf(0, 0x200000, 0x200000));
}

void check_smmu_exhaustive(unsigned page_shift, bool leaf) {
  SmmuRangeCaps caps{.page_shift = page_shift};
  uint64_t page = bit(page_shift);
  for (uint64_t s = 0; s < kSmallPages; ++s) {
    for (uint64_t e = s; e < kSmallPages; ++e) {
      IovaRange want{s * page, (e + 1) * page - 1};
      auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = leaf}, want.start,
                                    want.last - want.start + 1, page, caps);
      auto ranges = decoded_ranges(cmds);
      ASSERT_TRUE(union_covers(ranges, want)) << "pages " << s << ".." << e;
      // Leaf commands are exact; walk commands may add the one page that avoids NUM=0.
      uint64_t extra = leaf ? 0 : page;
      ASSERT_LE(ranges.back().last, want.last + extra) << "pages " << s << ".." << e;
    }
  }
}

TEST(SmmuEncode, ExhaustiveCoverage4K) {
  check_smmu_exhaustive(12, true);
  check_smmu_exhaustive(12, false);
}

TEST(SmmuEncode, ExhaustiveCoverage16K) {
  check_smmu_exhaustive(14, true);
  check_smmu_exhaustive(14, false);
}

TEST(SmmuEncode, ExhaustiveCoverage64K) {
  check_smmu_exhaustive(16, true);
  check_smmu_exhaustive(16, false);
}

TEST(SmmuEncode, ExhaustiveCoverageSingleAddress) {
  SmmuRangeCaps caps{.range_inv = false};
  for (uint64_t s = 0; s < 128; ++s) {
    for (uint64_t e = s; e < 128; ++e) {
      IovaRange want{s << 12, ((e + 1) << 12) - 1};
      auto cmds = smmu_encode_range(kNhVa, want.start, want.last - want.start + 1, 0x1000, caps);
      ASSERT_TRUE(union_covers(decoded_ranges(cmds), want)) << "pages " << s << ".." << e;
    }
  }
}

RC_GTEST_PROP(SmmuEncodeProp, RangeFormCoversAny64BitRange, ()) {
  IovaRange want = gen_range();
  unsigned page_shift = *rc::gen::element(12u, 14u, 16u);
  bool leaf = *rc::gen::arbitrary<bool>();
  SmmuRangeCaps caps{.page_shift = page_shift};
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = leaf}, want.start,
                                want.last - want.start + 1, bit(page_shift), caps);
  // The decoder saturates at 2^64: a walk flush ending on the last page may spill past it.
  RC_ASSERT(union_covers(decoded_ranges(cmds), want));
}

RC_GTEST_PROP(SmmuEncodeProp, BlockLeafCommandsCoverAndNameTheBlock, ()) {
  unsigned page_shift = *rc::gen::element(12u, 14u, 16u);
  unsigned level = *rc::gen::inRange(1u, 4u);
  uint64_t granule = bit(page_shift + (3 - level) * (page_shift - 3));
  uint64_t blocks = *rc::gen::inRange<uint64_t>(1, 5000);
  uint64_t start = *rc::gen::inRange<uint64_t>(0, uint64_t{1} << 20) * granule;
  auto cmds = smmu_encode_range({.op = SmmuOp::kTlbiNhVa, .leaf = true}, start, blocks * granule,
                                granule, {.page_shift = page_shift});
  RC_ASSERT(union_covers(decoded_ranges(cmds), {start, start + blocks * granule - 1}));
  for (const SmmuCmd& c : cmds) RC_ASSERT(smmu_decode(c).leaf_size == granule);
}

// --- Intel VT-d ------------------------------------------------------------------------------

TEST(VtdWire, GoldenPageSelective) {
  VtdIotlbDesc d{.gran = VtdGran::kPage, .did = 0x2a, .addr = 0x200000, .ih = true, .am = 9};
  VtdWords w = vtd_pack(d);
  EXPECT_EQ(w[0], 0x2a0032u);  // DID 31:16, GRAN 5:4 = 3, type 2
  EXPECT_EQ(w[1], 0x200049u);  // addr, IH bit 6, AM 5:0 = 9
  EXPECT_EQ(vtd_unpack(w), d);
  Command c = vtd_decode(d);
  EXPECT_EQ(c.range, (IovaRange{0x200000, 0x3fffff}));
  EXPECT_TRUE(c.leaf_only);
  EXPECT_TRUE(c.whole_leaf);
  EXPECT_THROW(vtd_unpack({0x5, 0}), std::invalid_argument);  // an invalidation-wait
}

TEST(VtdEncode, GoldenUnalignedStartWidensMask) {
  VtdIotlbDesc d = vtd_encode_range(1, 0x1000, 0x2fff, false, 63);  // pfns 1..2
  EXPECT_EQ(d.gran, VtdGran::kPage);
  EXPECT_EQ(d.am, 2);  // 2 pages round to AM=1, but pfn 1 is odd: widen to the block 0..3
  EXPECT_EQ(d.addr, 0u);
  d = vtd_encode_range(1, 0x200000, 0x3fffff, true, 63);
  EXPECT_EQ(d.am, 9);
  EXPECT_EQ(d.addr, 0x200000u);
  EXPECT_TRUE(d.ih);
}

TEST(VtdEncode, FallsBackToDomainAboveMamv) {
  VtdIotlbDesc d = vtd_encode_range(3, 0x200000, 0x3fffff, true, 8);
  EXPECT_EQ(d, (VtdIotlbDesc{.gran = VtdGran::kDomain, .did = 3}));
  EXPECT_EQ(vtd_decode(d).kind, CommandKind::kContext);
  EXPECT_EQ(vtd_pack(d)[0], 0x30022u);
}

TEST(VtdDecode, SuperpageNeedsCoveringMask) {
  Command four_k = vtd_decode({.gran = VtdGran::kPage, .did = 1, .addr = 0x201000, .am = 0});
  EXPECT_FALSE(four_k.hits_leaf(1, 0x200000, 0x200000));
  Command am9 = vtd_decode({.gran = VtdGran::kPage, .did = 1, .addr = 0x200000, .am = 9});
  EXPECT_TRUE(am9.hits_leaf(1, 0x200000, 0x200000));
}

TEST(VtdEncode, ExhaustiveCoverageIsTheSmallestAlignedBlock) {
  for (uint64_t s = 0; s < kSmallPages; ++s) {
    for (uint64_t e = s; e < kSmallPages; ++e) {
      IovaRange want{s << 12, ((e + 1) << 12) - 1};
      ASSERT_EQ(vtd_covered(want.start, want.last, 63), min_aligned_block(want.start, want.last))
          << "pages " << s << ".." << e;
    }
  }
}

RC_GTEST_PROP(VtdEncodeProp, CoversAny64BitRange, ()) {
  IovaRange want = gen_range();
  unsigned mamv = *rc::gen::inRange(0u, 64u);
  IovaRange got = vtd_covered(want.start, want.last, mamv);
  RC_ASSERT(got.start <= want.start && got.last >= want.last);
}

// --- AMD-Vi ----------------------------------------------------------------------------------

TEST(AmdEncode, GoldenAddresses) {
  EXPECT_EQ(amd_inv_address(0x5000, 0x5fff), 0x5000u);  // one page: S=0
  EXPECT_EQ(amd_inv_address(0x4000, 0x7fff), 0x5001u);  // msb 13: bits 12 set, S=1
  EXPECT_EQ(amd_inv_address(0, uint64_t{1} << 63), 0x7ffffffffffff001u);  // everything
}

TEST(AmdWire, GoldenInvalidatePages) {
  AmdCmd c = amd_encode_range(3, 0x4000, 0x7fff, true);
  AmdWords w = amd_pack(c);
  EXPECT_EQ(w, (AmdWords{0, 0x30000003, 0x5003, 0}));  // type 3 in 31:28, PDE | S
  EXPECT_EQ(amd_unpack(w), c);
  Command d = amd_decode(c);
  EXPECT_EQ(d.range, (IovaRange{0x4000, 0x7fff}));
  EXPECT_FALSE(d.leaf_only);
  EXPECT_TRUE(amd_decode({.op = AmdOp::kInvIommuPages, .pde = false}).leaf_only);
  EXPECT_EQ(amd_decode(amd_unpack(amd_pack({.op = AmdOp::kCompletionWait}))).kind,
            CommandKind::kSync);
  EXPECT_EQ(amd_decode({.op = AmdOp::kInvIommuAll}).kind, CommandKind::kAll);
  EXPECT_THROW(amd_decode({.op = AmdOp::kInvIommuPages, .gn = true}), std::invalid_argument);
  EXPECT_THROW(amd_unpack({0, 0x40000000, 0, 0}), std::invalid_argument);  // INVALIDATE_IOTLB_PAGES
}

TEST(AmdEncode, AllPagesAddressDecodesToEverything) {
  AmdCmd c = amd_encode_range(1, 0, ~uint64_t{0}, true);
  EXPECT_EQ(amd_decode(c).range, IovaRange::everything());
}

TEST(AmdEncode, ExhaustiveCoverageIsTheSmallestAlignedBlock) {
  for (uint64_t s = 0; s < kSmallPages; ++s) {
    for (uint64_t e = s; e < kSmallPages; ++e) {
      IovaRange want{s << 12, ((e + 1) << 12) - 1};
      ASSERT_EQ(amd_covered(want.start, want.last), min_aligned_block(want.start, want.last))
          << "pages " << s << ".." << e;
    }
  }
}

RC_GTEST_PROP(AmdEncodeProp, CoversAny64BitRange, ()) {
  IovaRange want = gen_range();
  IovaRange got = amd_covered(want.start, want.last);
  RC_ASSERT(got.start <= want.start && got.last >= want.last);
}

// The pre-fix build_inv_address set one bit below msb_diff instead of all of them.
uint64_t amd_inv_address_one_bit_bug(uint64_t start, uint64_t last) {
  if ((start >> 12) == (last >> 12)) return start & ~low_mask(12);
  unsigned msb_diff = fls64_idx(last ^ start);
  return ((start | bit(msb_diff - 1)) & ~low_mask(12)) | 1;
}

TEST(AmdEncode, OneBitBugVariantFailsCoverage) {
  uint64_t misses = 0;
  for (uint64_t s = 0; s < 64; ++s) {
    for (uint64_t e = s; e < 64; ++e) {
      uint64_t word = amd_inv_address_one_bit_bug(s << 12, ((e + 1) << 12) - 1);
      AmdCmd c{
          .op = AmdOp::kInvIommuPages, .address = word & ~low_mask(12), .size = (word & 1) != 0};
      IovaRange got = amd_decode(c).range;
      if (got.start > (s << 12) || got.last < ((e + 1) << 12) - 1) ++misses;
    }
  }
  EXPECT_GT(misses, 0u);
  IovaRange pages_0_to_4 = amd_decode({.op = AmdOp::kInvIommuPages,
                                       .address = amd_inv_address_one_bit_bug(0, 0x4fff) & ~1ull,
                                       .size = true})
                               .range;
  EXPECT_EQ(pages_0_to_4, (IovaRange{0x2000, 0x3fff}));  // asked for pages 0-4, got 2-3
}

// --- RISC-V IOMMU ------------------------------------------------------------------------------

// By hand from the spec's field positions: opcode 6:0, func3 9:7, AV 10, PSCID 31:12, PSCV 32,
// GV 33, GSCID 59:44; ADDR[63:12] in dword1 61:10. IOFENCE.C: PR 12, PW 13, DATA 63:32.
TEST(RiscvWire, GoldenCommands) {
  const RiscvCmd page{.op = RiscvOp::kIotinvalVma,
                      .av = true,
                      .pscv = true,
                      .pscid = 0x12345,
                      .addr = 0x7fff12345000};
  EXPECT_EQ(riscv_pack(page), (RiscvWords{0x112345401, 0x1fffc48d1400}));
  EXPECT_EQ(riscv_unpack(riscv_pack(page)), page);
  const RiscvCmd pscid{.op = RiscvOp::kIotinvalVma, .pscv = true, .pscid = 5};
  EXPECT_EQ(riscv_pack(pscid), (RiscvWords{0x100005001, 0}));
  EXPECT_EQ(riscv_pack({.op = RiscvOp::kIotinvalVma}), (RiscvWords{0x1, 0}));
  const RiscvCmd fence{.op = RiscvOp::kIofenceC, .pr = true, .pw = true};
  EXPECT_EQ(riscv_pack(fence), (RiscvWords{0x3002, 0}));  // riscv_iommu_cmd_iofence
  EXPECT_EQ(riscv_unpack({0x3002, 0}), fence);
  const RiscvCmd notify{.op = RiscvOp::kIofenceC, .addr = 0x80001000, .fence_av = true,
                        .data = 0xabcd};
  EXPECT_EQ(riscv_pack(notify), (RiscvWords{0xabcd00000402, 0x20000400}));
  EXPECT_EQ(riscv_unpack(riscv_pack(notify)), notify);
}

TEST(RiscvWire, IllegalCommandsAreRefused) {
  EXPECT_THROW(riscv_unpack({0x3, 0}), std::invalid_argument);            // IODIR.INVAL_DDT
  EXPECT_THROW(riscv_unpack({0x81, 0}), std::invalid_argument);           // IOTINVAL.GVMA
  EXPECT_THROW(riscv_unpack({0x801, 0}), std::invalid_argument);          // bit 11 reserved
  EXPECT_THROW(riscv_unpack({0x400000401, 0}), std::invalid_argument);    // bit 34 (NL ext.)
  EXPECT_THROW(riscv_unpack({0x401, 0x200}), std::invalid_argument);      // dword1 bit 9 (S ext.)
  EXPECT_THROW(riscv_unpack({0x4002, 0}), std::invalid_argument);         // IOFENCE bit 14
}

TEST(RiscvDecode, AddressFormHitsOnlyLeavesHoldingThePage) {
  const Command c = riscv_decode(riscv_unpack(
      riscv_pack({.op = RiscvOp::kIotinvalVma, .av = true, .pscv = true, .pscid = 7,
                  .addr = 0x40203000})));
  EXPECT_TRUE(c.hits_leaf(7, 0x40203000, 0x1000));
  EXPECT_TRUE(c.hits_leaf(7, 0x40200000, 0x200000));  // a 2M leaf holding the page
  EXPECT_FALSE(c.hits_leaf(7, 0x40210000, 0x10000));  // a 64K leaf elsewhere
  EXPECT_FALSE(c.hits_leaf(7, 0x40204000, 0x1000));
  EXPECT_FALSE(c.hits_leaf(8, 0x40203000, 0x1000));
  EXPECT_FALSE(c.hits_table(7, 0x40200000, 0x200000));  // non-leaf entries may stay
  const Command all_of_pscid = riscv_decode({.op = RiscvOp::kIotinvalVma, .pscv = true, .pscid = 7});
  EXPECT_EQ(all_of_pscid.kind, CommandKind::kContext);
  EXPECT_TRUE(all_of_pscid.hits_table(7, 0, uint64_t{1} << 30));
  EXPECT_EQ(riscv_decode({.op = RiscvOp::kIotinvalVma}).kind, CommandKind::kAll);
  EXPECT_EQ(riscv_decode({.op = RiscvOp::kIofenceC}).kind, CommandKind::kSync);
  EXPECT_THROW(riscv_decode({.op = RiscvOp::kIotinvalVma, .gv = true}), std::invalid_argument);
  EXPECT_THROW(riscv_decode({.op = RiscvOp::kIotinvalVma, .av = true}), std::invalid_argument);
}

// The extensions: NL (bit 34) and S (dword1 bit 9), legal only when the IOMMU has them. S=1
// makes ADDR a NAPOT range: riscv_iommu_cmd_inval_set_napot(0x40000000, 21) sets pfn bits 7:0.
TEST(RiscvWire, NonLeafAndRangeExtensions) {
  const RiscvCmd ranged{.op = RiscvOp::kIotinvalVma, .av = true, .pscv = true, .pscid = 7,
                        .addr = 0x400ff000, .nl = true, .s = true};
  const RiscvWords w = riscv_pack(ranged);
  EXPECT_EQ(w, (RiscvWords{0x500007401, 0x1003fe00}));
  EXPECT_THROW(riscv_unpack(w), std::invalid_argument);
  EXPECT_THROW(riscv_unpack(w, {.nl = true}), std::invalid_argument);
  EXPECT_EQ(riscv_unpack(w, {.nl = true, .s = true}), ranged);
  const Command c = riscv_decode(ranged);
  EXPECT_EQ(c.range, (IovaRange{0x40000000, 0x401fffff}));
  EXPECT_FALSE(c.leaf_only);
  EXPECT_TRUE(c.hits_table(7, 0x40000000, 0x200000));  // NL: every level for the range
  EXPECT_FALSE(c.hits_leaf(7, 0x40200000, 0x1000));
  auto napot = [](uint64_t addr) {
    return riscv_decode(
               {.op = RiscvOp::kIotinvalVma, .av = true, .pscv = true, .addr = addr, .s = true})
        .range;
  };
  EXPECT_EQ(napot(0x2000), (IovaRange{0x2000, 0x3fff}));  // first 0 at X = 0: 8K
  EXPECT_EQ(napot(0x1000), (IovaRange{0, 0x3fff}));       // X = 1: 16K
  EXPECT_EQ(riscv_decode({.op = RiscvOp::kIotinvalVma, .av = true, .pscv = true,
                          .addr = 0x7ffffffffffff000, .s = true})
                .range,
            IovaRange::everything());
  EXPECT_THROW(riscv_decode({.op = RiscvOp::kIotinvalVma, .av = true, .pscv = true,
                             .addr = ~uint64_t{0} << 12, .s = true}),
               std::invalid_argument);  // all ones: UNSPECIFIED
  // AV=0 ignores both.
  EXPECT_EQ(riscv_decode({.op = RiscvOp::kIotinvalVma, .pscv = true, .nl = true, .s = true}).kind,
            CommandKind::kContext);
}

TEST(RiscvEncode, ExtensionsAsLinuxUsesThem) {
  using Cmds = std::vector<RiscvCmd>;
  const RiscvCaps nl{.nl = true}, s{.s = true}, both{.nl = true, .s = true};
  const auto walk = riscv_encode_range(3, 0x40200000, 0x40202fff, 0x1000, true, nl);
  ASSERT_EQ(walk.size(), 3u);
  EXPECT_TRUE(walk[2].av && walk[2].nl && !walk[2].s);
  EXPECT_EQ(walk[2].addr, 0x40202000u);
  const auto ranged = riscv_encode_range(3, 0x40000000, 0x401fffff, 0x1000, true, both);
  ASSERT_EQ(ranged.size(), 1u);
  EXPECT_EQ(riscv_pack(ranged[0])[1], 0x1003fe00u);
  EXPECT_TRUE(ranged[0].nl);
  // 513 pages: one ranged command where the plain IOMMU takes the whole PSCID.
  EXPECT_EQ(riscv_encode_range(3, 0, 513 * 0x1000 - 1, 0x1000, false, s).size(), 1u);
  // One page is below S's 8K minimum: an address command.
  EXPECT_FALSE(riscv_encode_range(3, 0x5000, 0x5fff, 0x1000, false, s)[0].s);
  const RiscvCmd whole{.op = RiscvOp::kIotinvalVma, .pscv = true, .pscid = 3};
  EXPECT_EQ(riscv_encode_range(3, 0x5000, 0x5fff, 0x1000, true, s), Cmds{whole});  // no NL
  EXPECT_EQ(riscv_encode_range(3, 0, ~uint64_t{0}, 0x1000, false, both), Cmds{whole});
}

std::vector<IovaRange> riscv_covered(uint64_t start, uint64_t last, uint64_t granule,
                                     const RiscvCaps& caps = {}) {
  std::vector<IovaRange> out;
  for (const RiscvCmd& c : riscv_encode_range(3, start, last, granule, false, caps)) {
    Command d = riscv_decode(riscv_unpack(riscv_pack(c), caps));
    out.push_back(d.kind == CommandKind::kContext ? IovaRange::everything() : d.range);
  }
  return out;
}

TEST(RiscvEncode, OneCommandPerStrideUpTo512) {
  EXPECT_EQ(riscv_encode_range(3, 0x5000, 0x7fff, 0x1000, false).size(), 3u);
  const auto napot = riscv_encode_range(3, 0x40010000, 0x4001ffff, 0x10000, false);
  ASSERT_EQ(napot.size(), 16u);  // a 64K leaf sits at the 4K level: a 4K stride
  EXPECT_EQ(napot[15].addr, 0x4001f000u);
  const auto two_m = riscv_encode_range(3, 0x40200000, 0x405fffff, 0x200000, false);
  ASSERT_EQ(two_m.size(), 2u);
  EXPECT_EQ(two_m[1].addr, 0x40400000u);
  EXPECT_TRUE(two_m[1].av && two_m[1].pscv);
  EXPECT_EQ(riscv_encode_range(3, 0, 512 * 0x1000 - 1, 0x1000, false).size(), 512u);
  const RiscvCmd whole{.op = RiscvOp::kIotinvalVma, .pscv = true, .pscid = 3};
  using Cmds = std::vector<RiscvCmd>;
  EXPECT_EQ(riscv_encode_range(3, 0, 513 * 0x1000 - 1, 0x1000, false), Cmds{whole});
  EXPECT_EQ(riscv_encode_range(3, 0x5000, 0x5fff, 0x1000, true), Cmds{whole});  // non-leaf
  EXPECT_EQ(riscv_encode_range(3, 0x5000, 0x5fff, 0, false), Cmds{whole});  // no level info
  EXPECT_EQ(riscv_encode_range(3, 0, ~uint64_t{0}, 0x1000, false), Cmds{whole});
  EXPECT_THROW(riscv_encode_range(3, 0x2000, 0x1000, 0x1000, false), std::invalid_argument);
}

// Every page pair of a small space, and ranges around the 512-command threshold.
TEST(RiscvEncode, ExhaustiveCoverage) {
  constexpr uint64_t kPages = 96;
  for (uint64_t s = 0; s < kPages; ++s)
    for (uint64_t e = s; e < kPages; ++e) {
      IovaRange want{s << 12, ((e + 1) << 12) - 1};
      ASSERT_TRUE(union_covers(riscv_covered(want.start, want.last, 0x1000), want))
          << "pages " << s << ".." << e;
      ASSERT_TRUE(union_covers(riscv_covered(want.start, want.last, 0x1000, {.s = true}), want))
          << "S: pages " << s << ".." << e;
    }
  for (uint64_t s : {0, 1, 7})
    for (uint64_t e : {s + 510, s + 511, s + 512, s + 513}) {
      IovaRange want{s << 12, ((e + 1) << 12) - 1};
      ASSERT_TRUE(union_covers(riscv_covered(want.start, want.last, 0x1000), want))
          << "pages " << s << ".." << e;
    }
}

}  // namespace
}  // namespace iommu::hw
