// The checker's verdicts: each rule accepts what ref allows and names what it does not.
#include "conform/judge.h"

#include <gtest/gtest.h>

#include "base/prot.h"

namespace iommu::conform {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr ref::DeviceAccess kRead{};
constexpr ref::DeviceAccess kWrite{.write = true};

hw::AccessResult reached(uint64_t iova_base, uint64_t paddr_base, hw::Perms perms) {
  hw::AccessResult r;
  r.leaf = hw::Leaf{.iova_base = iova_base, .paddr_base = paddr_base, .size = k4K, .perms = perms};
  return r;
}

hw::AccessResult faulted(hw::FaultReason reason) {
  hw::AccessResult r;
  r.fault = hw::Fault{.reason = reason, .level = 3, .desc_paddr = 0x80003008};
  return r;
}

struct JudgeTest : ::testing::Test {
  hw::Format s1 = hw::make_format({.name = "arm-64-lpae-s1-4k"});
  hw::Format dart = hw::make_format({.name = "apple-dart"});
  ref::DeviceView mapped_ro{.current = ref::Observation{0x9000'0000, IOMMU_READ},
                            .may_fault = false};
};

TEST_F(JudgeTest, FormatPermsFollowWhatTheFormatCanExpress) {
  // LPAE stage 1 cannot deny reads; DART can, and has no execute control.
  EXPECT_TRUE(format_perms(s1, IOMMU_WRITE).read);
  EXPECT_FALSE(format_perms(dart, IOMMU_WRITE).read);
  EXPECT_FALSE(format_perms(s1, IOMMU_READ).write);
  EXPECT_FALSE(format_perms(s1, IOMMU_READ | IOMMU_NOEXEC).exec);
}

TEST_F(JudgeTest, AccessWithinTheMappingIsAllowed) {
  EXPECT_EQ(judge_access(s1, mapped_ro, 0x1000, kRead, reached(0x1000, 0x9000'0000, {.read = true})),
            std::nullopt);
}

TEST_F(JudgeTest, TooPermissiveLeafIsCaught) {
  auto v = judge_access(s1, mapped_ro, 0x1000, kWrite,
                        reached(0x1000, 0x9000'0000, {.read = true, .write = true}));
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("reached 0x90000000 with perms rw-"), std::string::npos) << *v;
}

TEST_F(JudgeTest, WrongOutputAddressIsCaught) {
  EXPECT_TRUE(judge_access(s1, mapped_ro, 0x1000, kRead, reached(0x1000, 0xa000'0000, {.read = true})));
}

TEST_F(JudgeTest, StaleTranslationsAreAllowedUntilTheirSync) {
  ref::DeviceView unmapped{.stale = {{0x9000'0000, IOMMU_READ}}};
  EXPECT_EQ(judge_access(s1, unmapped, 0x1000, kRead, reached(0x1000, 0x9000'0000, {.read = true})),
            std::nullopt);
  ref::DeviceView synced;
  EXPECT_TRUE(judge_access(s1, synced, 0x1000, kRead, reached(0x1000, 0x9000'0000, {.read = true})));
}

TEST_F(JudgeTest, FaultIsWrongOnlyWhereTheMappingMustWork) {
  EXPECT_TRUE(judge_access(s1, mapped_ro, 0x1000, kRead, faulted(hw::FaultReason::kTranslation)));
  EXPECT_EQ(judge_access(s1, mapped_ro, 0x1000, kWrite, faulted(hw::FaultReason::kPermission)),
            std::nullopt);
  ref::DeviceView pending = mapped_ro;
  pending.may_fault = true;  // mapped, iotlb_sync_map not yet done under np caching
  EXPECT_EQ(judge_access(s1, pending, 0x1000, kRead, faulted(hw::FaultReason::kTranslation)),
            std::nullopt);
}

TEST_F(JudgeTest, AStaleTranslationMayDenyWhatTheCurrentOneGrants) {
  ref::DeviceView remapped{.current = ref::Observation{0xa000'0000, IOMMU_READ | IOMMU_WRITE},
                           .stale = {{0x9000'0000, IOMMU_READ}},
                           .may_fault = false};
  EXPECT_EQ(judge_access(s1, remapped, 0x1000, kWrite, faulted(hw::FaultReason::kPermission)),
            std::nullopt);
  EXPECT_TRUE(judge_access(s1, remapped, 0x1000, kWrite, faulted(hw::FaultReason::kTranslation)));
  EXPECT_TRUE(judge_access(s1, remapped, 0x1000, kRead, faulted(hw::FaultReason::kPermission)));
}

TEST_F(JudgeTest, WalkingFreedTablesIsAlwaysAViolation) {
  ref::DeviceView unmapped;
  auto v = judge_access(s1, unmapped, 0x1000, kRead, faulted(hw::FaultReason::kBadTable));
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("descriptor at 0x80003008"), std::string::npos) << *v;
}

TEST_F(JudgeTest, WalkMustShowExactlyTheCurrentMapping) {
  ref::LeafInfo leaf{.iova = 0x200000, .paddr = 0x4000'0000, .pgsize = 0x200000, .prot = IOMMU_READ};
  hw::WalkResult good;
  good.outcome = hw::Leaf{.iova_base = 0x200000, .paddr_base = 0x4000'0000, .size = 0x200000,
                          .level = 2, .perms = format_perms(s1, IOMMU_READ)};
  EXPECT_EQ(judge_walk(s1, leaf, 0x212345, good), std::nullopt);
  hw::WalkResult writable = good;
  std::get<hw::Leaf>(writable.outcome).perms.write = true;
  EXPECT_TRUE(judge_walk(s1, leaf, 0x212345, writable));
  hw::WalkResult empty;
  empty.outcome = hw::Fault{.reason = hw::FaultReason::kTranslation};
  EXPECT_TRUE(judge_walk(s1, leaf, 0x212345, empty));
  EXPECT_EQ(judge_walk(s1, std::nullopt, 0x212345, empty), std::nullopt);
  EXPECT_TRUE(judge_walk(s1, std::nullopt, 0x212345, good));
}

TEST_F(JudgeTest, AnAddressSizeFaultIsAnUnmappedAnswerOnlyBeyondTheIas) {
  // Beyond 2^ias no table can map an iova; inside it, an address size fault is a descriptor
  // the driver wrote wrong, even where nothing is mapped.
  hw::WalkResult size_fault;
  size_fault.outcome = hw::Fault{.reason = hw::FaultReason::kAddressSize};
  const uint64_t beyond = uint64_t{1} << s1.geo().ias;
  EXPECT_EQ(judge_walk(s1, std::nullopt, beyond, size_fault), std::nullopt);
  EXPECT_TRUE(judge_walk(s1, std::nullopt, beyond - 0x1000, size_fault));
  EXPECT_TRUE(judge_walk(s1, std::nullopt, 0x212345, size_fault));
}

TEST_F(JudgeTest, IovaToPhysIncludesTheOffset) {
  ref::LeafInfo leaf{.iova = 0x200000, .paddr = 0x4000'0000, .pgsize = 0x200000, .prot = IOMMU_READ};
  EXPECT_EQ(judge_iova_to_phys(leaf, 0x212345, 0x4001'2345), std::nullopt);
  EXPECT_TRUE(judge_iova_to_phys(leaf, 0x212345, 0x4000'0000));
  EXPECT_EQ(judge_iova_to_phys(std::nullopt, 0x212345, 0), std::nullopt);
}

}  // namespace
}  // namespace iommu::conform
