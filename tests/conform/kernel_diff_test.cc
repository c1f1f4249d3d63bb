// `diff`'s bookkeeping on plugins (conform/kernel_diff.h): a driver whose results are not a
// function of its calls is refused, not compared. The kernel trees' diff: tests/linux/.
#include "conform/kernel_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "conform/registry.h"

namespace iommu::conform {
namespace {

TEST(KernelDiff, RefusesADriverThatAnswersTheSameOpsDifferently) {
  const DriverSource flaky =
      resolve_driver("plugin:" + std::string(IOMMUCHECK_PLUGIN_DIR) + "/faulty_plugin_flaky.so");
  DiffOptions o;
  o.ops = 400;
  o.mode = CallerMode::kContract;
  o.minimize_tests = 20;
  EXPECT_THAT([&] { diff_drivers(flaky, flaky, o); },
              testing::ThrowsMessage<std::runtime_error>(
                  testing::HasSubstr("behaved differently when the same ops ran again")));
}

}  // namespace
}  // namespace iommu::conform
