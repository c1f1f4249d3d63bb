// RefDomain against the naive PageOracle on random op sequences in small address spaces, for
// every policy combination; RapidCheck shrinks a failure to a minimal sequence.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdio>

#include "ref/page_oracle.h"
#include "ref/ref.h"
#include "ref/selfcheck.h"

namespace iommu::ref {
namespace {

enum class OpKind { kMap, kMapNosync, kSyncMap, kUnmap, kUnmapFastSync, kMapSg, kFlushAll };

struct Op {
  OpKind kind;
  uint64_t iova;   // in minimum pages
  uint64_t paddr;  // in minimum pages
  uint64_t pages;
  int prot;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* kNames[] = {"map", "map_nosync", "sync_map", "unmap", "unmap_fast+sync",
                                 "map_sg", "flush_all"};
  return os << kNames[static_cast<int>(op.kind)] << " iova=" << op.iova << "p paddr=" << op.paddr
            << "p pages=" << op.pages << " prot=" << prot_to_string(op.prot);
}

rc::Gen<Op> gen_op(unsigned page_bits) {
  const uint64_t space = uint64_t{1} << page_bits;
  return rc::gen::build<Op>(
      rc::gen::set(&Op::kind, rc::gen::element(OpKind::kMap, OpKind::kMap, OpKind::kMapNosync,
                                               OpKind::kSyncMap, OpKind::kUnmap, OpKind::kUnmap,
                                               OpKind::kUnmapFastSync, OpKind::kMapSg,
                                               OpKind::kFlushAll)),
      // Multiples of 16 pages often, so 64K and 1M (or 2M) leaves really get used.
      rc::gen::set(&Op::iova, rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, space),
                                             rc::gen::map(rc::gen::inRange<uint64_t>(0, space / 16),
                                                          [](uint64_t x) { return x * 16; }))),
      rc::gen::set(&Op::paddr, rc::gen::map(rc::gen::inRange<uint64_t>(0, space / 16),
                                            [](uint64_t x) { return x * 16; })),
      rc::gen::set(&Op::pages, rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 40),
                                              rc::gen::inRange<uint64_t>(0, space / 2))),
      rc::gen::set(&Op::prot, rc::gen::element<int>(IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                                               IOMMU_READ | IOMMU_NOEXEC, IOMMU_READ | IOMMU_PRIV,
                                               0)));
}

// Applies op to both models; returns whether their answers agreed.
bool apply(RefDomain& ref, PageOracle& oracle, const Op& op) {
  const uint64_t pg = ref.config().min_pgsize();
  const uint64_t iova = op.iova * pg, size = op.pages * pg;
  // The paddr keeps iova's offset inside 1 MiB half the time so large leaves are possible.
  const uint64_t paddr = (op.paddr * pg) | (op.prot & IOMMU_READ ? iova & 0xfffff : 0);
  switch (op.kind) {
    case OpKind::kMap: return ref.map(iova, paddr, size, op.prot) == oracle.map(iova, paddr, size, op.prot);
    case OpKind::kMapNosync:
      return ref.map_nosync(iova, paddr, size, op.prot) == oracle.map_nosync(iova, paddr, size, op.prot);
    case OpKind::kSyncMap: ref.iotlb_sync_map(iova, size); oracle.iotlb_sync_map(iova, size); return true;
    case OpKind::kUnmap: return ref.unmap(iova, size) == oracle.unmap(iova, size);
    case OpKind::kUnmapFastSync: {
      const GatherId g = ref.new_gather();
      const bool same = ref.unmap_fast(iova, size, g) == oracle.unmap_fast(iova, size, g);
      ref.iotlb_sync(g);
      oracle.iotlb_sync(g);
      return same;
    }
    case OpKind::kMapSg: {
      const std::vector<Segment> segs{{paddr, pg * (1 + op.pages % 3)},
                                      {paddr + pg * (1 + op.pages % 3), size + pg},
                                      {paddr + 0x100000, pg}};
      return ref.map_sg(iova, segs, op.prot) == oracle.map_sg(iova, segs, op.prot);
    }
    case OpKind::kFlushAll: ref.flush_iotlb_all(); oracle.flush_iotlb_all(); return true;
  }
  return false;
}

void assert_same_state(const RefDomain& ref, const PageOracle& oracle, unsigned page_bits) {
  const uint64_t pg = ref.config().min_pgsize();
  for (uint64_t page = 0; page < (uint64_t{1} << page_bits); ++page) {
    const uint64_t iova = page * pg + pg / 2;
    RC_ASSERT(ref.pgtable().leaves().leaf_at(iova) == oracle.leaf_at(iova));
    RC_ASSERT(ref.iova_to_phys(iova) == oracle.iova_to_phys(iova));
    DeviceView a = ref.device_view(iova), b = oracle.device_view(iova);
    auto order = [](const Observation& x, const Observation& y) { return x.paddr < y.paddr; };
    std::sort(a.stale.begin(), a.stale.end(), order);
    std::sort(b.stale.begin(), b.stale.end(), order);
    RC_ASSERT(a.current == b.current);
    RC_ASSERT(a.may_fault == b.may_fault);
    RC_ASSERT(a.stale == b.stale);
  }
}

void check_config(const DomainConfig& cfg) {
  const unsigned page_bits = cfg.ias - 12;
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op(page_bits));
  RefDomain ref(cfg);
  PageOracle oracle(cfg);
  for (const Op& op : ops) {
    RC_ASSERT(apply(ref, oracle, op));
    assert_same_state(ref, oracle, page_bits);
  }
}

RC_GTEST_PROP(RefVsOracle, AgreeOpByOpInEveryConfiguration, ()) {
  const auto configs = selfcheck_configs();
  check_config(*rc::gen::elementOf(configs));
}

}  // namespace
}  // namespace iommu::ref
