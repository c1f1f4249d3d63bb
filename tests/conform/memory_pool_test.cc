// Checkers on one thread share table memories: reuse must hand over a clean memory.
#include <gtest/gtest.h>

#include <thread>

#include "conform/memory_pool.h"

namespace iommu::conform {
namespace {

const hw::TableMemory::Config kWindow = hw::TableMemory::window_for_oas(48);

TEST(MemoryLease, ReusesAResetMemoryOnTheSameThread) {
  hw::TableMemory* first = nullptr;
  {
    MemoryLease lease(kWindow);
    first = &lease.memory();
    const uint64_t t = *first->alloc(4096);
    first->write64(t, 42);
  }
  MemoryLease again(kWindow);
  EXPECT_EQ(&again.memory(), first);
  EXPECT_TRUE(again.memory().live_allocations().empty());
  const uint64_t t = *again.memory().alloc(4096);
  EXPECT_EQ(again.memory().read64(t), 0u);
}

TEST(MemoryLease, LeasesAliveTogetherGetDistinctMemories) {
  MemoryLease a(kWindow);
  MemoryLease b(kWindow);
  EXPECT_NE(&a.memory(), &b.memory());
}

TEST(MemoryLease, OtherWindowsAndThreadsGetTheirOwn) {
  hw::TableMemory* wide = nullptr;
  { wide = &MemoryLease(kWindow).memory(); }
  MemoryLease narrow(hw::TableMemory::window_for_oas(30));
  EXPECT_NE(&narrow.memory(), wide);
  EXPECT_EQ(narrow.memory().config().limit, uint64_t{1} << 30);
  std::thread([&] {
    MemoryLease other(kWindow);
    EXPECT_NE(&other.memory(), wide);
  }).join();
}

}  // namespace
}  // namespace iommu::conform
