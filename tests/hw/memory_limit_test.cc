// The model's own limits: a table memory of a chosen size, exhaustion counted apart from
// injected allocation failures, and images viewed in place rather than copied.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "hw/table_memory.h"

namespace iommu::hw {
namespace {

constexpr uint64_t K = 1024, M = K * K, G = M * K;

TEST(TableMemoryLimit, WindowOfAChosenSize) {
  EXPECT_EQ(TableMemory::window_for_oas(48, 0).limit, uint64_t{1} << 32);  // the default
  const TableMemory::Config c = TableMemory::window_for_oas(48, 16 * G);
  EXPECT_EQ(c.base, 0x80000000u);
  EXPECT_EQ(c.limit, 0x80000000u + 16 * G);
  EXPECT_EQ(TableMemory::window_for_oas(30, 64 * K).base, uint64_t{1} << 29);
  EXPECT_THROW(TableMemory::window_for_oas(48, 1000), std::invalid_argument);     // not chunks
  EXPECT_THROW(TableMemory::window_for_oas(48, 32 * K), std::invalid_argument);   // too small
  EXPECT_THROW(TableMemory::window_for_oas(48, 128 * G), std::invalid_argument);  // too large
  EXPECT_THROW(TableMemory::window_for_oas(32, 4 * G), std::invalid_argument);    // past the oas
  EXPECT_NO_THROW(TableMemory::window_for_oas(32, 2 * G));
}

TEST(TableMemoryLimit, ExhaustionIsCountedApartFromInjectedFailures) {
  TableMemory mem(TableMemory::window_for_oas(48, 64 * K));
  mem.fail_nth_allocation(1);
  EXPECT_FALSE(mem.alloc(4 * K));  // injected: the driver's -ENOMEM path, not the model's limit
  mem.set_failure_hook([](uint64_t seq, uint64_t) { return seq == 2; });
  EXPECT_FALSE(mem.alloc(4 * K));
  EXPECT_EQ(mem.allocations_refused(), 0u);
  mem.set_failure_hook(nullptr);
  for (int i = 0; i < 16; i++) ASSERT_TRUE(mem.alloc(4 * K)) << i;
  EXPECT_FALSE(mem.alloc(4 * K));  // 64K hold 16 pages: the window is full
  EXPECT_EQ(mem.allocations_refused(), 1u);
  mem.reset(mem.config());
  EXPECT_EQ(mem.allocations_refused(), 0u);
}

TEST(TableMemoryLimit, ViewedImageReadsInPlace) {
  std::vector<uint8_t> bytes(0x1804, 0);
  bytes[0x1000] = 0x11;
  bytes[0x1803] = 0x44;
  TableMemory mem;
  mem.view_image(0x80000500, bytes);  // inside the window, not chunk aligned at either end
  EXPECT_EQ(mem.peek64(0x80001500), 0x11u);
  EXPECT_EQ(mem.peek32(0x80001d00), 0x44000000u);
  EXPECT_EQ(mem.peek64(0x80001d08), 0u);  // the rest of a partly covered chunk reads as zero
  EXPECT_EQ(mem.peek64(0x80000400), 0u);
  EXPECT_EQ(mem.state(0x80000400), PageState::kAllocated);
  EXPECT_EQ(mem.state(0x800003f8), PageState::kNeverAllocated);
  EXPECT_EQ(mem.state(0x80002000), PageState::kNeverAllocated);
  EXPECT_FALSE(mem.peek64(0x80002000));
  bytes[0x1000] = 0x22;  // read in place, not copied
  EXPECT_EQ(mem.peek64(0x80001500), 0x22u);
  mem.write64(0x80001500, 1);  // read-only: a bad access, dropped
  EXPECT_EQ(bytes[0x1000], 0x22);
  EXPECT_EQ(mem.bad_accesses().size(), 1u);
  EXPECT_THROW(mem.view_image(0x90000000, bytes), std::logic_error);
}

}  // namespace
}  // namespace iommu::hw
