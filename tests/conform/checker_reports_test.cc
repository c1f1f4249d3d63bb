// What a finding says: the check it names and the detail it gives, for a driver that throws
// out of a call and for each kind of bad table memory access; and a driver whose tables
// cannot be walked is still judged by what it answers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "base/prot.h"
#include "conform/checker.h"
#include "conform/impl_driver.h"

namespace iommu::conform {
namespace {

constexpr uint64_t K4 = 0x1000;
constexpr int RW = IOMMU_READ | IOMMU_WRITE;

// impl, with one thing done wrong inside map_pages.
class MisbehavesInMap : public Driver {
 public:
  enum class Fault { kThrow, kReadFreed, kReadUnallocated, kDoubleFree };
  MisbehavesInMap(std::unique_ptr<Driver> inner, DriverEnv& env, Fault fault)
      : inner_(std::move(inner)), env_(env), fault_(fault) {}
  const DriverInfo& info() const override { return inner_->info(); }
  std::vector<uint64_t> roots() const override { return inner_->roots(); }
  uint64_t iova_to_phys(uint64_t iova) override { return inner_->iova_to_phys(iova); }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override {
    return inner_->unmap_pages(iova, pgsize, pgcount, gather);
  }
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    hw::TableMemory& m = env_.memory;
    switch (fault_) {
      case Fault::kThrow:
        throw std::runtime_error("the table is inconsistent");
      case Fault::kReadFreed: {
        const uint64_t t = *m.alloc(K4, K4);
        m.free(t);
        m.read64(t);
        break;
      }
      case Fault::kReadUnallocated:
        m.read64(m.config().limit - K4);
        break;
      case Fault::kDoubleFree: {
        const uint64_t t = *m.alloc(K4, K4);
        m.free(t);
        m.free(t);
        break;
      }
    }
    return inner_->map_pages(iova, paddr, pgsize, pgcount, prot, mapped);
  }

 private:
  std::unique_ptr<Driver> inner_;
  DriverEnv& env_;
  Fault fault_;
};

Violation first_map(MisbehavesInMap::Fault fault) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  auto inner = src.create;
  src.create = [inner, fault](DriverEnv& env) -> std::unique_ptr<Driver> {
    return std::make_unique<MisbehavesInMap>(inner(env), env, fault);
  };
  Checker c(src);
  const StepResult r = c.step(MapOp{0x200000, 0x800000, K4, RW});
  if (!r.violation) ADD_FAILURE() << "not caught";
  return r.violation.value_or(Violation{});
}

TEST(CheckerReports, ACallThatThrowsIsADriverCallFinding) {
  const Violation v = first_map(MisbehavesInMap::Fault::kThrow);
  EXPECT_EQ(v.check, "driver-call");
  EXPECT_EQ(v.detail, "the call failed: the table is inconsistent");
}

TEST(CheckerReports, AReadOfAFreedTableSaysFreed) {
  const Violation v = first_map(MisbehavesInMap::Fault::kReadFreed);
  EXPECT_EQ(v.check, "memory");
  EXPECT_NE(v.detail.find("the driver read 8 bytes at "), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find(", which is freed"), std::string::npos) << v.detail;
}

TEST(CheckerReports, AReadOfMemoryNeverAllocatedSaysSo) {
  const Violation v = first_map(MisbehavesInMap::Fault::kReadUnallocated);
  EXPECT_EQ(v.check, "memory");
  EXPECT_NE(v.detail.find(", which is not allocated table memory"), std::string::npos)
      << v.detail;
}

TEST(CheckerReports, ADoubleFreeSaysFreed) {
  const Violation v = first_map(MisbehavesInMap::Fault::kDoubleFree);
  EXPECT_EQ(v.check, "memory");
  EXPECT_NE(v.detail.find(", which is freed (a double free"), std::string::npos) << v.detail;
}

// A driver without a hardware format (a plugin that declares none) has no device to probe:
// its answers are still judged, by iova_to_phys.
TEST(CheckerReports, ADriverWithoutAWalkableFormatIsJudgedByIovaToPhys) {
  DriverSource src = impl_driver_source("arm-64-lpae-s1-4k");
  src.info.format.name.clear();
  Checker c(src);
  for (const Op& op : std::vector<Op>{MapOp{0x200000, 0x800000, 2 * K4, RW},
                                      IovaToPhysOp{0x201008}, UnmapOp{0x200000, 2 * K4}}) {
    const StepResult r = c.step(op);
    EXPECT_FALSE(r.violation) << r.violation->message();
  }
  EXPECT_FALSE(c.teardown());
}

}  // namespace
}  // namespace iommu::conform
