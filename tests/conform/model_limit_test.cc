// Running out of the model's table memory is reported as the model's limit, never as a
// violation of the driver that asked for the memory.
#include "conform/model_limit.h"

#include <gtest/gtest.h>

#include <string>

#include "base/prot.h"
#include "conform/campaign.h"
#include "conform/checker.h"
#include "conform/impl_driver.h"

namespace iommu::conform {
namespace {

constexpr uint64_t K = 1024, M = K * K;

// 64M mapped with 4K pages (the paddr is only 4K aligned) needs 32 level-3 tables of 4K, plus
// the upper levels: more than 64K of table memory holds.
const MapOp kBigMap{.iova = 0, .paddr = 0x1000, .size = 64 * M, .prot = IOMMU_READ | IOMMU_WRITE};

TEST(ModelLimit, ExhaustedTableMemoryIsTheModelsLimitNotAViolation) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  Checker checker(src, {.table_memory = 64 * K});
  try {
    const StepResult r = checker.step(kBigMap);
    FAIL() << "no ModelLimitError; violation: " << (r.violation ? r.violation->message() : "none");
  } catch (const ModelLimitError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("op 1 `map iova=0x0 paddr=0x1000 size=64M prot=rw`"), std::string::npos)
        << what;
    EXPECT_NE(what.find("64K of table memory"), std::string::npos) << what;
  }
}

TEST(ModelLimit, TheSameOpFitsTheDefaultMemory) {
  const DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  EXPECT_FALSE(replay_ops(src, {kBigMap}));
  EXPECT_THROW(replay_ops(src, {kBigMap}, {.table_memory = 64 * K}), ModelLimitError);
}

}  // namespace
}  // namespace iommu::conform
