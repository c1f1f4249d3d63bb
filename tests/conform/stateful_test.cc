// RapidCheck stateful tests (rc::state) of every impl format through the checker: commands
// over the trace op vocabulary, generated against the reference as model, shrunk to a minimal
// failing sequence when a check fails.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>

#include "base/bits.h"
#include "base/prot.h"
#include "conform/checker.h"
#include "conform/contract.h"
#include "conform/generator.h"
#include "conform/impl_driver.h"
#include "conform/ref_side.h"
#include "conform/trace.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

using Model = RefSide;

// One op as a command: contract-checked against the model, judged by the checker.
struct OpCmd : rc::state::Command<Model, Checker> {
  Op op;

  void checkPreconditions(const Model& m) const override {
    RC_PRE(!contract_verdict(m.domain(), op));
  }
  void apply(Model& m) const override { m.apply(op); }
  void run(const Model&, Checker& checker) const override {
    const StepResult r = checker.step(op);
    if (r.violation) RC_FAIL(r.violation->message());
  }
  void show(std::ostream& os) const override { os << format_op(op); }
};

std::vector<uint64_t> pgsizes(const Model& m) {
  std::vector<uint64_t> out;
  for (uint64_t b = m.domain().config().pgsize_bitmap; b != 0; b &= b - 1) out.push_back(b & (~b + 1));
  return out;
}

// Two hot regions: around the first boundary of the largest page, and at the top of the ias.
uint64_t gen_iova(const Model& m, uint64_t align) {
  const auto sizes = pgsizes(m);
  const uint64_t span = std::min(sizes.back() * 2, uint64_t{1} << (m.domain().config().ias - 1));
  const uint64_t top = low_mask(m.domain().config().ias) - span + 1;
  const uint64_t base = *rc::gen::element(uint64_t{0}, top);
  return base + *rc::gen::inRange<uint64_t>(0, span / align) * align;
}

int gen_prot() {
  return *rc::gen::element<int>(IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                           IOMMU_READ | IOMMU_NOEXEC, IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV);
}

struct Map : OpCmd {
  explicit Map(const Model& m) {
    const auto sizes = pgsizes(m);
    const uint64_t pgsize = *rc::gen::elementOf(sizes);
    const uint64_t size = pgsize * *rc::gen::inRange<uint64_t>(1, 20) + sizes.front() * *rc::gen::inRange<uint64_t>(0, 3);
    const uint64_t iova = gen_iova(m, *rc::gen::element(pgsize, sizes.front()));
    const uint64_t paddr = (uint64_t{1} << (m.domain().config().oas - 2)) + (iova & (sizes.back() - 1));
    op = MapOp{iova, paddr, size, gen_prot()};
  }
};

const ref::LeafRun& gen_run(const Model& m) {
  const auto& runs = m.domain().pgtable().leaves().runs();
  RC_PRE(!runs.empty());
  auto it = runs.begin();
  std::advance(it, *rc::gen::inRange<size_t>(0, runs.size()));
  return it->second;
}

struct Unmap : OpCmd {
  explicit Unmap(const Model& m) {
    const ref::LeafRun& run = gen_run(m);
    const uint64_t count = *rc::gen::inRange<uint64_t>(1, run.count + 1);
    op = UnmapOp{run.iova, count * run.pgsize};
  }
};

struct UnmapFast : OpCmd {
  explicit UnmapFast(const Model& m) {
    const ref::LeafRun& run = gen_run(m);
    op = UnmapFastOp{run.iova, run.size(), *rc::gen::inRange<GatherLabel>(1, 3)};
  }
};

struct Sync : OpCmd {
  Sync() { op = IotlbSyncOp{*rc::gen::inRange<GatherLabel>(1, 3)}; }
};

struct Flush : OpCmd {
  Flush() { op = FlushIotlbAllOp{}; }
};

struct MapSg : OpCmd {
  explicit MapSg(const Model& m) {
    const uint64_t min = pgsizes(m).front();
    MapSgOp sg{.iova = gen_iova(m, min), .prot = gen_prot(), .segs = {}};
    uint64_t paddr = uint64_t{1} << (m.domain().config().oas - 3);
    for (int i = *rc::gen::inRange(1, 5); i > 0; i--) {
      const uint64_t length = min * *rc::gen::inRange<uint64_t>(1, 4);
      if (*rc::gen::arbitrary<bool>()) paddr += min * 16;  // a gap: not mergeable
      sg.segs.push_back({paddr, length});
      paddr += length;
    }
    op = sg;
  }
};

struct Access : OpCmd {
  explicit Access(const Model& m) {
    const uint64_t iova = gen_iova(m, pgsizes(m).front());
    if (*rc::gen::arbitrary<bool>()) op = WriteOp{.iova = iova};
    else op = ReadOp{.iova = iova};
  }
};

void check_format(std::string_view format, ref::Invalidation inv) {
  DriverSource src = impl_driver_source(format);
  src.info.config.invalidation = inv;
  const bool ok = rc::check(std::string(format), [&] {
    Model model(src.info.config);
    Checker checker(src);
    rc::state::check(model, checker,
                     rc::state::gen::execOneOfWithArgs<Map, Map, Unmap, UnmapFast, Sync, Flush,
                                                       MapSg, Access>());
    if (auto v = checker.teardown()) RC_FAIL(v->message());
  });
  EXPECT_TRUE(ok) << format;
}

TEST(ImplStateful, EveryFormatStrict) {
  for (std::string_view f : impl::pgtable_formats()) check_format(f, ref::Invalidation::kStrict);
}

TEST(ImplStateful, EveryFormatLazy) {
  for (std::string_view f : impl::pgtable_formats()) check_format(f, ref::Invalidation::kLazy);
}

}  // namespace
}  // namespace iommu::conform
