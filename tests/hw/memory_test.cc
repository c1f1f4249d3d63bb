// Table memory: allocation, state tracking, poison, leaks and injected allocation failures.
#include <gtest/gtest.h>

#include <array>
#include <latch>
#include <thread>

#include "hw/format.h"
#include "hw/table_memory.h"

namespace iommu::hw {
namespace {

TEST(TableMemory, AllocatesAlignedFromTheBase) {
  TableMemory mem;
  EXPECT_EQ(mem.alloc(4096), 0x80000000u);
  EXPECT_EQ(mem.alloc(16384), 0x80004000u);  // skips to the next 16K boundary
  EXPECT_EQ(mem.alloc(1024), 0x80008000u);   // a v7s level-2 table
  EXPECT_EQ(mem.alloc(1024), 0x80008400u);
  EXPECT_EQ(mem.alloc(65536), 0x80010000u);  // 16 concatenated 4K tables
  EXPECT_EQ(mem.alloc(32), 0x80020000u);     // a tiny PGD still owns a whole 1K chunk
  EXPECT_EQ(mem.alloc(32), 0x80020400u);
  EXPECT_EQ(mem.alloc(4096, 65536), 0x80030000u);
  EXPECT_THROW(mem.alloc(3000), std::invalid_argument);
}

TEST(TableMemory, ZeroedLittleEndianWords) {
  TableMemory mem;
  uint64_t t = *mem.alloc(4096);
  EXPECT_EQ(mem.read64(t + 8), 0u);
  mem.write64(t, 0x1122334455667788);
  EXPECT_EQ(mem.read32(t), 0x55667788u);
  EXPECT_EQ(mem.read32(t + 4), 0x11223344u);
  mem.write32(t + 4, 0xdeadbeef);
  EXPECT_EQ(mem.peek64(t), 0xdeadbeef55667788u);
  EXPECT_TRUE(mem.bad_accesses().empty());
  EXPECT_THROW(mem.read64(t + 4), std::logic_error);
}

TEST(TableMemory, TracksPageStates) {
  TableMemory mem;
  EXPECT_EQ(mem.state(0x80000000), PageState::kNeverAllocated);
  uint64_t t = *mem.alloc(4096);
  EXPECT_EQ(mem.state(t + 4095), PageState::kAllocated);
  mem.free(t);
  EXPECT_EQ(mem.state(t), PageState::kFreed);
  EXPECT_EQ(mem.state(t + 4095), PageState::kFreed);
  EXPECT_EQ(mem.state(t + 4096), PageState::kNeverAllocated);
}

TEST(TableMemory, FreedMemoryReadsAsPoisonAndIsReported) {
  TableMemory mem;
  uint64_t t = *mem.alloc(4096);
  mem.write64(t, 0x40000e43);
  mem.free(t);
  EXPECT_EQ(mem.peek64(t), std::nullopt);
  EXPECT_EQ(mem.read64(t), kPoison64);
  EXPECT_EQ(mem.read32(t + 4), kPoison32);
  mem.write64(t, 1);  // dropped
  EXPECT_EQ(mem.read64(t), kPoison64);
  ASSERT_EQ(mem.bad_accesses().size(), 4u);
  EXPECT_EQ(mem.bad_accesses()[0].paddr, t);
  EXPECT_EQ(mem.bad_accesses()[0].state, PageState::kFreed);
  EXPECT_TRUE(mem.bad_accesses()[2].write);
  EXPECT_EQ(mem.read64(0x10000), 0u);  // never allocated: zero, but reported
  EXPECT_EQ(mem.bad_accesses().back().state, PageState::kNeverAllocated);
}

TEST(TableMemory, PoisonLooksLikeAWildValidTable) {
  // A dangling pointer must lead somewhere visibly wrong, not to an empty entry.
  for (const char* name : {"arm-64-lpae-s1-4k", "apple-dart", "arm-v7s"}) {
    Format f = make_format({.name = name});
    uint64_t poison = f.geo().desc_bytes == 4 ? kPoison32 : kPoison64;
    Decoded d = f.decode(poison, f.geo().start_level);
    EXPECT_NE(d.kind, DescKind::kEmpty) << name;
    TableMemory mem;
    if (d.kind == DescKind::kTable) {
      EXPECT_EQ(mem.state(d.paddr), PageState::kNeverAllocated) << name;
    }
  }
}

TEST(TableMemory, FreeErrors) {
  TableMemory mem;
  uint64_t t = *mem.alloc(4096);
  EXPECT_THROW(mem.free(t + 1024), std::logic_error);
  mem.free(t);
  EXPECT_THROW(mem.free(t), std::logic_error);
  EXPECT_THROW(mem.free(0x1234000), std::logic_error);
}

TEST(TableMemory, LeakListHoldsLiveAllocations) {
  TableMemory mem;
  uint64_t a = *mem.alloc(4096);
  uint64_t b = *mem.alloc(1024);
  uint64_t c = *mem.alloc(16384);
  mem.free(b);
  EXPECT_EQ(mem.live_allocations(), (std::vector<Allocation>{{a, 4096}, {c, 16384}}));
  mem.free(a);
  mem.free(c);
  EXPECT_TRUE(mem.live_allocations().empty());
}

TEST(TableMemory, FailsTheNthAllocation) {
  TableMemory mem;
  ASSERT_TRUE(mem.alloc(4096));
  mem.fail_nth_allocation(2);
  EXPECT_TRUE(mem.alloc(4096));
  EXPECT_EQ(mem.alloc(4096), std::nullopt);
  EXPECT_TRUE(mem.alloc(4096));
  EXPECT_EQ(mem.allocations_requested(), 4u);
  EXPECT_EQ(mem.allocations_failed(), 1u);
  EXPECT_EQ(mem.live_allocations().size(), 3u);
}

// A checker tells which answers a driver may give from whether an allocation failed, by the
// failure settings or for lack of room.
TEST(TableMemory, CountsFailedAllocations) {
  TableMemory mem({.base = 0x80000000, .limit = 0x80000000 + 2 * 4096});
  mem.set_failure_hook([](uint64_t seq, uint64_t) { return seq == 2; });
  EXPECT_TRUE(mem.alloc(4096));
  EXPECT_EQ(mem.alloc(4096), std::nullopt);
  EXPECT_EQ(mem.allocations_failed(), 1u);
  EXPECT_TRUE(mem.alloc(4096));
  EXPECT_EQ(mem.alloc(4096), std::nullopt) << "the window is full";
  EXPECT_EQ(mem.allocations_failed(), 2u);
  mem.reset(mem.config());
  EXPECT_EQ(mem.allocations_failed(), 0u);
}

TEST(TableMemory, FailureHookSeesSequenceAndSize) {
  TableMemory mem;
  mem.set_failure_hook([](uint64_t seq, uint64_t size) { return seq == 1 || size > 4096; });
  EXPECT_EQ(mem.alloc(4096), std::nullopt);
  EXPECT_TRUE(mem.alloc(4096));
  EXPECT_EQ(mem.alloc(8192), std::nullopt);
}

TEST(TableMemory, ReusesFreedRangesOnlyWhenTheWindowIsFull) {
  TableMemory mem({.base = 0x80000000, .limit = 0x80002000});
  uint64_t a = *mem.alloc(4096);
  uint64_t b = *mem.alloc(4096);
  EXPECT_EQ(mem.alloc(4096), std::nullopt);
  mem.write64(a, 7);
  mem.free(a);
  EXPECT_EQ(mem.alloc(4096), a);
  EXPECT_EQ(mem.read64(a), 0u);
  EXPECT_NE(a, b);
  EXPECT_THROW(TableMemory({.base = 0x80000100, .limit = 0x90000000}), std::invalid_argument);
}

TEST(TableMemory, AQuarantineBoundsHowLongFreedMemoryWaits) {
  TableMemory mem({.quarantine = 8192});
  uint64_t a = *mem.alloc(4096), b = *mem.alloc(4096), c = *mem.alloc(4096);
  mem.free(a);
  mem.free(b);
  EXPECT_EQ(mem.alloc(4096), c + 4096) << "8K waiting is within the quarantine";
  mem.free(c);
  EXPECT_EQ(mem.alloc(4096), a) << "then the oldest is reused";
  EXPECT_EQ(mem.alloc(4096), c + 8192);
}

TEST(TableMemory, WindowFitsTheOas) {
  TableMemory v7s30(TableMemory::window_for_oas(30));
  EXPECT_EQ(v7s30.alloc(16384), 0x20000000u);
  EXPECT_EQ(TableMemory::window_for_oas(48).base, 0x80000000u);
  EXPECT_EQ(TableMemory::window_for_oas(48).limit, 1ull << 32);
}

TEST(TableMemory, LoadsAnImage) {
  TableMemory mem;
  std::array<uint8_t, 12> bytes{0x43, 0x0e, 0, 0x40, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04};
  mem.load(0x1000, bytes);
  EXPECT_EQ(mem.peek64(0x1000), 0x40000e43u);
  EXPECT_EQ(mem.peek32(0x1008), 0x04030201u);
  EXPECT_EQ(mem.peek32(0x100c), 0u);  // rest of the chunk
  EXPECT_EQ(mem.state(0x1400), PageState::kNeverAllocated);
}

TEST(TableMemory, CompareExchangeIsAnAtomicSwapOnAllocatedWords) {
  TableMemory mem;
  uint64_t t = *mem.alloc(4096);
  uint64_t expected = 0;
  EXPECT_TRUE(mem.compare_exchange64(t, expected, 0x1234));
  EXPECT_FALSE(mem.compare_exchange64(t, expected = 0, 0x5678));
  EXPECT_EQ(expected, 0x1234u) << "a failed exchange reports what the word held";
  EXPECT_EQ(mem.read64(t), 0x1234u);
  uint32_t e32 = 0;
  EXPECT_TRUE(mem.compare_exchange32(t + 8, e32, 0xabcd));
  EXPECT_EQ(mem.read32(t + 8), 0xabcdu);
  mem.free(t);
  EXPECT_FALSE(mem.compare_exchange64(t, expected = 0, 1));
  EXPECT_EQ(expected, kPoison64);
  ASSERT_EQ(mem.bad_accesses().size(), 1u);
  EXPECT_TRUE(mem.bad_accesses()[0].write);
  EXPECT_THROW(mem.compare_exchange64(t + 4, expected, 1), std::logic_error);
}

TEST(TableMemory, MetaWordPerAllocationStartsAtZero) {
  TableMemory mem({.base = 0x80000000, .limit = 0x80002000});
  uint64_t a = *mem.alloc(4096);
  mem.meta(a).store(7);
  EXPECT_EQ(mem.meta(a).load(), 7u);
  EXPECT_THROW(mem.meta(a + 1024), std::logic_error) << "not the start of an allocation";
  EXPECT_THROW(mem.meta(0x1000), std::logic_error);
  ASSERT_TRUE(mem.alloc(4096));
  mem.free(a);
  EXPECT_THROW(mem.meta(a), std::logic_error);
  EXPECT_EQ(mem.alloc(4096), a);
  EXPECT_EQ(mem.meta(a).load(), 0u) << "reset on reuse";
}

TEST(TableMemory, LiveBytesCountWholeChunks) {
  TableMemory mem;
  uint64_t a = *mem.alloc(4096);
  ASSERT_TRUE(mem.alloc(32));
  EXPECT_EQ(mem.live_bytes(), 4096u + 1024u);
  mem.free(a);
  EXPECT_EQ(mem.live_bytes(), 1024u);
}

TEST(TableMemory, WordsAreSafeFromSeveralThreads) {
  TableMemory mem;
  uint64_t t = *mem.alloc(4096);
  std::latch start(2);
  auto work = [&](unsigned id) {
    start.arrive_and_wait();
    for (uint64_t i = 0; i < 4000000; i++) {
      mem.write64(t + 64 + 8 * id, i);  // a word of its own
      uint64_t seen = mem.read64(t);
      while (!mem.compare_exchange64(t, seen, seen + 1)) {
      }
    }
    for (uint64_t i = 0; i < 1000; i++) mem.read64(0x10000);  // recorded under the lock
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(mem.read64(t), 8000000u) << "an exchange lost an update";
  EXPECT_EQ(mem.read64(t + 64), 3999999u);
  EXPECT_EQ(mem.bad_accesses().size(), 2000u);
}

TEST(TableMemory, ImageInsideTheWindowComesBeforeAllocations) {
  TableMemory mem;
  std::array<uint8_t, 8> bytes{1, 2, 3, 4, 5, 6, 7, 8};
  mem.load(0x80000000, bytes);
  EXPECT_EQ(mem.peek64(0x80000000), 0x0807060504030201u);
  EXPECT_EQ(mem.alloc(1024), 0x80000400u);
  EXPECT_TRUE(mem.live_allocations().size() == 1u) << "an image is not an allocation";
  EXPECT_THROW(mem.load(0x80000400, bytes), std::logic_error);
  EXPECT_THROW(mem.free(0x80000000), std::logic_error);
}

TEST(TableMemory, ReusedMemoryIsZeroWhetherKeptOrReturnedToTheHost) {
  const uint64_t n = 2 * TableMemory::kResidentFreedBudget / 4096;  // half get returned
  TableMemory mem({.base = 0x80000000, .limit = 0x80000000 + n * 4096});
  std::vector<uint64_t> tables;
  for (uint64_t i = 0; i < n; i++) {
    tables.push_back(*mem.alloc(4096));
    mem.write64(tables.back() + 4088, ~uint64_t{0});
  }
  for (uint64_t t : tables) mem.free(t);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t t = *mem.alloc(4096);
    EXPECT_EQ(t, tables[i]) << "oldest first";
    EXPECT_EQ(mem.read64(t + 4088), 0u);
  }
}

TEST(TableMemory, HugeWindowsAreBackedUpToTheArenaLimit) {
  TableMemory mem({.base = 0x000f000000000000, .limit = 1ull << 52});
  uint64_t t = *mem.alloc(65536);
  EXPECT_EQ(t, 0x000f000000000000u);
  mem.write64(t, 42);
  EXPECT_EQ(mem.read64(t), 42u);
}

// reset() must leave nothing behind, whether it zeroes in place or returns the pages.
class TableMemoryReset : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TableMemoryReset, ForgetsEverything) {
  const uint64_t tables = GetParam();
  TableMemory mem({.base = 0x80000000, .limit = 0x80000000 + (tables + 8) * 4096});
  uint64_t last = 0;
  for (uint64_t i = 0; i < tables; i++) {
    last = *mem.alloc(4096);
    mem.write64(last + 8, 0x1234);
    mem.meta(last).store(7);
  }
  mem.free(last);
  mem.read64(last);  // a bad access
  mem.load(0x10000, std::array<uint8_t, 8>{1});
  mem.fail_nth_allocation(2);

  mem.reset({.base = 0x80000000, .limit = 0x80000000 + (tables + 8) * 4096, .quarantine = 0});
  EXPECT_TRUE(mem.live_allocations().empty());
  EXPECT_TRUE(mem.bad_accesses().empty());
  EXPECT_EQ(mem.live_bytes(), 0u);
  EXPECT_EQ(mem.allocations_requested(), 0u);
  EXPECT_EQ(mem.state(0x10000), PageState::kNeverAllocated);
  EXPECT_EQ(mem.state(last), PageState::kNeverAllocated);
  EXPECT_EQ(mem.config().quarantine, 0u);
  for (uint64_t i = 0; i < tables; i++) {
    const uint64_t t = *mem.alloc(4096);  // the failure set before the reset is gone
    EXPECT_EQ(t, 0x80000000 + i * 4096) << "allocation starts again at the base";
    EXPECT_EQ(mem.read64(t + 8), 0u);
    EXPECT_EQ(mem.meta(t).load(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(InPlaceAndReturned, TableMemoryReset,
                         ::testing::Values(4, 2 * TableMemory::kResetInPlace / 4096));

TEST(TableMemory, ResetKeepsTheWindow) {
  TableMemory mem;
  EXPECT_THROW(mem.reset({.base = 0x40000000, .limit = 0x80000000}), std::invalid_argument);
}

TEST(TableMemory, AllocationBytesAreTheLiveAllocationInPlace) {
  TableMemory mem;
  const uint64_t t = *mem.alloc(4096);
  mem.write64(t + 16, 0x1122334455667788);
  const std::span<const uint8_t> bytes = mem.allocation_bytes(t);
  ASSERT_EQ(bytes.size(), 4096u);
  EXPECT_EQ(bytes[16], 0x88);
  EXPECT_EQ(bytes[23], 0x11);
  EXPECT_TRUE(mem.allocation_bytes(t + 8).empty()) << "not the start";
  EXPECT_TRUE(mem.allocation_bytes(t + 4096).empty()) << "never allocated";
  mem.free(t);
  EXPECT_TRUE(mem.allocation_bytes(t).empty()) << "freed";
}

}  // namespace
}  // namespace iommu::hw
