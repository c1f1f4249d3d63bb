// Edges of the judge's rules that the verdict tests do not reach: where the ias ends for an
// address-size fault, and the words a report uses for privileged accesses and mappings.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "conform/judge.h"

namespace iommu::conform {
namespace {

constexpr uint64_t kTop48 = uint64_t{1} << 48;

hw::AccessResult address_size_fault() {
  hw::AccessResult r;
  r.fault = hw::Fault{.reason = hw::FaultReason::kAddressSize, .level = 0, .desc_paddr = 0};
  return r;
}

TEST(JudgeRules, AnAddressSizeFaultIsHarmlessFromTheFirstByteBeyondTheIas) {
  const hw::Format s1 = hw::make_format({.name = "arm-64-lpae-s1-4k"});
  const ref::DeviceView nothing{};
  EXPECT_FALSE(judge_access(s1, nothing, kTop48, {}, address_size_fault()));
  EXPECT_TRUE(judge_access(s1, nothing, kTop48 - 1, {}, address_size_fault()))
      << "the last byte of the ias is inside it";
  EXPECT_TRUE(judge_access(s1, nothing, 0, {}, address_size_fault()));
}

TEST(JudgeRules, AReportNamesPrivilegedAccessesAndMappings) {
  const hw::Format s1 = hw::make_format({.name = "arm-64-lpae-s1-4k"});
  const ref::DeviceView user_ro{.current = ref::Observation{0x90000000, IOMMU_READ},
                                .may_fault = false};
  hw::AccessResult r;
  r.leaf = hw::Leaf{.iova_base = 0x1000, .paddr_base = 0x90000000, .size = 0x1000,
                    .perms = {.read = true, .write = true, .priv_only = true}};
  const auto v = judge_access(s1, user_ro, 0x1000, {.write = true, .priv = true}, r);
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("write (privileged)"), std::string::npos) << *v;
  EXPECT_NE(v->find("priv-only"), std::string::npos) << *v;
}

}  // namespace
}  // namespace iommu::conform
