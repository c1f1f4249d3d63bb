// What makes two findings the same: the check, the op kind and the rule, not the numbers.
#include "conform/signature.h"

#include <gtest/gtest.h>

namespace iommu::conform {
namespace {

Violation v(std::string op, std::string check, std::string detail) {
  return {0, std::move(op), std::move(check), std::move(detail)};
}

TEST(Signature, TheSameRuleAtOtherAddressesSizesAndCountsMatches) {
  const auto a = v("unmap iova=0x200000 size=2M", "return",
                   "unmap returned 2097152 (0x200000); ref 4096 (0x1000)");
  const auto b = v("unmap iova=0x7f000 size=16K", "return",
                   "unmap returned 8192 (0x2000); ref 16384 (0x4000)");
  EXPECT_EQ(finding_signature(a), finding_signature(b));
  EXPECT_EQ(finding_signature(a), "return unmap: unmap returned # (#); ref # (#)");
}

TEST(Signature, SizesWithUnitsAndNegativeErrnosAreNumbers) {
  EXPECT_EQ(finding_signature(v("map_pages iova=0x0", "driver-call",
                                "map_pages(pgsize=4K, pgcount=4) returned -34")),
            "driver-call map_pages: map_pages(pgsize=#, pgcount=#) returned -#");
}

TEST(Signature, DigitsInsideNamesAreKept) {
  EXPECT_EQ(finding_signature(v("map x", "translation", "arm-64-lpae-s1-4k walk at level 3")),
            "translation map: arm-64-lpae-s1-4k walk at level #");
}

TEST(Signature, AnotherRuleOfTheSameCheckDiffers) {
  const auto walk = v("map iova=0x1000", "translation", "hw walk: translation fault at level 3");
  const auto phys = v("map iova=0x1000", "translation",
                      "iova_to_phys(0x1000): ref 0x5000, "
                      "driver 0x0");
  EXPECT_NE(finding_signature(walk), finding_signature(phys));
}

TEST(Signature, AnotherOpKindDiffers) {
  EXPECT_NE(
      finding_signature(v("unmap iova=0x0 size=4K", "stale", "iotlb holds 0x0")),
      finding_signature(v("unmap_fast iova=0x0 size=4K gather=1", "stale", "iotlb holds 0x0")));
}

TEST(Signature, AWarnIsItsFileAndLine) {
  const auto at334 = v("map iova=0x0", "warn", "io-pgtable-arm.c:334: WARN_ON(!pte)");
  const auto at334_elsewhere =
      v("unmap iova=0x1000 size=4K", "warn", "io-pgtable-arm.c:334: WARN_ON(!pte) at 0x1000");
  const auto at660 = v("map iova=0x0", "warn", "io-pgtable-arm.c:660: WARN_ON(!pte)");
  EXPECT_EQ(finding_signature(at334), "warn io-pgtable-arm.c:334");
  EXPECT_EQ(finding_signature(at334), finding_signature(at334_elsewhere));
  EXPECT_NE(finding_signature(at334), finding_signature(at660));
}

TEST(Signature, AWarnWithoutALocationIsItsText) {
  EXPECT_EQ(finding_signature(v("map x", "warn", "table at 0x1000 not empty")),
            "warn table at # not empty");
}

}  // namespace
}  // namespace iommu::conform
