// Where the checker looks after each op: every op that maps is probed over its range, at the
// first and last page and at the pages just outside it, so a driver that maps the wrong
// address, or spills a leaf into a neighbouring page, is caught at the op that did it.
#include <gtest/gtest.h>

#include "base/prot.h"
#include "conform/checker.h"
#include "conform/impl_driver.h"

namespace iommu::conform {
namespace {

constexpr uint64_t K4 = 0x1000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

// A driver that maps what it is asked, plus one mistake the checker's probes must see.
class Misplaces : public Driver {
 public:
  enum class Fault { kNone, kPaddrOffByAPage, kSpillBefore, kSpillAfter, kTargetPaddr,
                     kTargetWritable, kTargetPaddrHidden };
  // The one page kTarget* faults touch, deep inside a large map.
  static constexpr uint64_t kTarget = 0x100000 + 37 * K4;
  Misplaces(std::unique_ptr<Driver> inner, Fault fault) : inner_(std::move(inner)), fault_(fault) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    if (fault_ == Fault::kPaddrOffByAPage) paddr += pgsize;
    const bool target = fault_ == Fault::kTargetPaddr || fault_ == Fault::kTargetWritable ||
                        fault_ == Fault::kTargetPaddrHidden;
    if (target && pgsize == K4 &&
        iova <= kTarget && kTarget - iova < pgcount * pgsize)
      return map_with_target_wrong(iova, paddr, pgcount, prot, mapped);
    const int ret = inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
    // The spilled leaf is not counted in *mapped, so each driver call still looks right.
    uint64_t spilled = 0;
    if (fault_ == Fault::kSpillBefore && iova >= pgsize)
      inner_->map_pages(iova - pgsize, paddr - pgsize, pgsize, 1, prot, &spilled);
    if (fault_ == Fault::kSpillAfter)
      inner_->map_pages(iova + pgsize * pgcount, paddr + pgsize * pgcount, pgsize, 1, prot,
                        &spilled);
    return ret;
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }
  uint64_t iova_to_phys(uint64_t iova) override {
    const uint64_t pa = inner_->iova_to_phys(iova);
    // kTargetPaddrHidden: the table is wrong, and iova_to_phys tells what it should say.
    const bool hide = fault_ == Fault::kTargetPaddrHidden && iova >> 12 == kTarget >> 12;
    return hide ? pa - 0x100000 : pa;
  }

 private:
  int map_with_target_wrong(uint64_t iova, uint64_t paddr, uint64_t pgcount, int prot,
                            uint64_t* mapped) {
    const uint64_t before = (kTarget - iova) / K4, after = pgcount - before - 1;
    uint64_t ignored = 0;
    int ret = before ? inner_->map_pages(iova, paddr, K4, before, prot, mapped) : 0;
    if (fault_ != Fault::kTargetWritable)
      ret |= inner_->map_pages(kTarget, paddr + before * K4 + 0x100000, K4, 1, prot, &ignored);
    else
      ret |= inner_->map_pages(kTarget, paddr + before * K4, K4, 1, prot | IOMMU_WRITE, &ignored);
    *mapped += K4;
    if (after) ret |= inner_->map_pages(kTarget + K4, paddr + (before + 1) * K4, K4, after, prot, mapped);
    return ret;
  }

  std::unique_ptr<Driver> inner_;
  Fault fault_;
};

DriverSource source(Misplaces::Fault fault) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner, fault](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<Misplaces>(inner(env), fault);
  };
  return src;
}

// The check that fails at the first op, or "" when it passes.
std::string check_of_first_op(const DriverSource& src, const Op& op) {
  Checker c(src);
  const StepResult r = c.step(op);
  return r.violation ? r.violation->check : "";
}

std::vector<Op> every_mapping_op(uint64_t iova, uint64_t pages) {
  return {MapOp{iova, 0x100000, pages * K4, RW}, MapNosyncOp{iova, 0x100000, pages * K4, RW},
          MapSgOp{iova, RW, {{0x100000, pages * K4}}},
          MapPagesOp{iova, 0x100000, K4, pages, RW}};
}

TEST(ProbePoints, ACorrectDriverPassesEveryMappingOp) {
  for (const Op& op : every_mapping_op(0x10000, 3))
    EXPECT_EQ(check_of_first_op(source(Misplaces::Fault::kNone), op), "") << op_name(op);
}

TEST(ProbePoints, EveryMappingOpIsProbedOverItsRange) {
  for (const Op& op : every_mapping_op(0x10000, 3)) {
    EXPECT_EQ(check_of_first_op(source(Misplaces::Fault::kPaddrOffByAPage), op), "translation")
        << op_name(op);
  }
}

TEST(ProbePoints, ThePageJustBeforeTheRangeIsProbed) {
  // Down to the lowest page that has a page before it.
  for (const Op& op : every_mapping_op(K4, 1)) {
    EXPECT_EQ(check_of_first_op(source(Misplaces::Fault::kSpillBefore), op), "translation")
        << op_name(op);
  }
}

TEST(ProbePoints, ThePageJustAfterTheRangeIsProbed) {
  for (const Op& op : every_mapping_op(0x10000, 2)) {
    EXPECT_EQ(check_of_first_op(source(Misplaces::Fault::kSpillAfter), op), "translation")
        << op_name(op);
  }
}

// A page the map's own probes do not reach: only the op that names it can see it.
TEST(ProbePoints, ReadWriteAndIovaToPhysOpsAreJudgedWhereTheyLook) {
  const MapOp map{0x100000, 0x40000000, 64 * K4, IOMMU_READ};
  for (auto [fault, access] : {std::pair<Misplaces::Fault, Op>{Misplaces::Fault::kTargetPaddr,
                                                               ReadOp{Misplaces::kTarget}},
                               {Misplaces::Fault::kTargetWritable, WriteOp{Misplaces::kTarget}},
                               {Misplaces::Fault::kTargetPaddrHidden,
                                IovaToPhysOp{Misplaces::kTarget + 0x10}}}) {
    Checker c(source(fault));
    const StepResult first = c.step(map);
    ASSERT_FALSE(first.violation) << first.violation->message();
    const StepResult r = c.step(access);
    ASSERT_TRUE(r.violation) << op_name(access);
    EXPECT_EQ(r.violation->check, "translation");
  }
}

TEST(ProbePoints, TheFirstPageOfARangeIsProbed) {
  // kTarget has bit 12 set: rounding it down to a page must not lose that bit.
  const MapOp map{Misplaces::kTarget, 0x40000000, 64 * K4, IOMMU_READ};
  EXPECT_EQ(check_of_first_op(source(Misplaces::Fault::kTargetPaddr), map), "translation");
}

TEST(ProbePoints, TheLastPageOfARangeIsProbed) {
  // Without random samples only the edges are probed: a run whose last page alone is wrong
  // must still be caught, whatever op mapped it.
  const MapOp map{Misplaces::kTarget - 2 * K4, 0x40000000, 3 * K4, IOMMU_READ};
  for (const Op& op : {Op{map}, Op{MapSgOp{map.iova, map.prot, {{map.paddr, map.size}}}},
                       Op{MapPagesOp{map.iova, map.paddr, K4, 3, map.prot}}}) {
    Checker c(source(Misplaces::Fault::kTargetPaddr), {.samples = 0});
    const StepResult r = c.step(op);
    ASSERT_TRUE(r.violation) << op_name(op);
    EXPECT_EQ(r.violation->check, "translation");
  }
}

TEST(ProbePoints, AFormatWithoutIasOrOasIsWalkedWithTheConfigs) {
  // A plugin may leave the format's ias/oas at 0; the device must then walk with the domain's
  // (39 bits: a 3-level table), not the format's default (48 bits: 4 levels).
  DriverSource src = impl_driver_source(hw::FormatConfig{"arm-64-lpae-s1-4k", 39, 40});
  src.info.format.ias = src.info.format.oas = 0;
  Checker c(src);
  for (const Op& op : every_mapping_op(0x7000000000 - 2 * K4, 2)) {
    const StepResult r = c.step(op);
    EXPECT_FALSE(r.violation) << r.violation->message();
    c.step(UnmapOp{0x7000000000 - 2 * K4, 2 * K4});
  }
}

}  // namespace
}  // namespace iommu::conform
