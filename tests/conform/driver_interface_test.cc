// The pieces of conform/driver.h that are not an adapter: the warning log and DriverInfo.
#include <gtest/gtest.h>

#include <thread>

#include "conform/driver.h"

namespace iommu::conform {
namespace {

TEST(WarningLog, TakeReturnsMessagesOldestFirstAndEmptiesTheLog) {
  WarningLog log;
  log.report("first");
  log.report("second");
  EXPECT_EQ(log.size(), 2u);
  EXPECT_EQ(log.take(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(log.size(), 0u);
  EXPECT_TRUE(log.take().empty());
}

TEST(WarningLog, TakesReportsFromSeveralThreads) {
  WarningLog log;
  auto report = [&log] {
    for (int i = 0; i < 1000; i++) log.report("w");
  };
  std::thread a(report), b(report);
  a.join();
  b.join();
  EXPECT_EQ(log.take().size(), 2000u);
}

TEST(DriverInfo, IsWalkableWhenItNamesAFormat) {
  DriverInfo info;
  EXPECT_FALSE(info.walkable());
  info.format.name = "arm-64-lpae-s1-4k";
  EXPECT_TRUE(info.walkable());
}

}  // namespace
}  // namespace iommu::conform
