// impl::Domain over the ref-backed page table against ref::RefDomain, op by op, in every
// policy combination and driver style: same return values, same table, and the invalidations
// the driver sent leave a device nothing the reference does not allow (a stale translation
// only where the reference still lists it, a cached fault only where it says may_fault).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <random>

#include "base/prot.h"
#include "impl/domain.h"
#include "iommu_driver_recorder.h"
#include "ref/pgsize.h"
#include "ref/ref.h"
#include "ref/selfcheck.h"
#include "ref_pgtable_ops.h"

namespace iommu::impl {
namespace {

using testing::RecordingSink;
using testing::SinkShadow;
using testing::RefPgtableOps;

constexpr hw::ContextId kCtx = 3;
constexpr size_t kGatherSlots = 2;

enum class OpKind { kMap, kMapNosync, kSyncMap, kUnmap, kUnmapFast, kSync, kMapSg, kFlushAll };

struct Op {
  OpKind kind;
  uint64_t iova;   // in minimum pages
  uint64_t paddr;  // in minimum pages
  uint64_t pages;
  int prot;
  size_t slot;  // gather slot of unmap_fast / sync
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* kNames[] = {"map",  "map_nosync", "sync_map", "unmap",
                                 "unmap_fast", "sync", "map_sg", "flush_all"};
  return os << kNames[static_cast<int>(op.kind)] << " iova=" << op.iova << "p paddr=" << op.paddr
            << "p pages=" << op.pages << " prot=" << prot_to_string(op.prot) << " slot=" << op.slot;
}

rc::Gen<Op> gen_op(unsigned page_bits) {
  const uint64_t space = uint64_t{1} << page_bits;
  auto sixteen = [](uint64_t x) { return x * 16; };
  return rc::gen::build<Op>(
      rc::gen::set(&Op::kind, rc::gen::element(OpKind::kMap, OpKind::kMap, OpKind::kMapNosync,
                                               OpKind::kSyncMap, OpKind::kUnmap, OpKind::kUnmap,
                                               OpKind::kUnmapFast, OpKind::kSync, OpKind::kMapSg,
                                               OpKind::kFlushAll)),
      rc::gen::set(&Op::iova, rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, space),
                                             rc::gen::map(rc::gen::inRange<uint64_t>(0, space / 16), sixteen))),
      rc::gen::set(&Op::paddr, rc::gen::map(rc::gen::inRange<uint64_t>(0, space / 16), sixteen)),
      rc::gen::set(&Op::pages, rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 40),
                                              rc::gen::inRange<uint64_t>(0, space / 2))),
      rc::gen::set(&Op::prot, rc::gen::element<int>(IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                                                    IOMMU_READ | IOMMU_NOEXEC, 0)),
      rc::gen::set(&Op::slot, rc::gen::inRange<size_t>(0, kGatherSlots)));
}

struct Harness {
  ref::DomainConfig cfg;
  RecordingSink sink{kCtx};
  IommuDriver driver;
  RefPgtableOps ops;
  SinkShadow shadow{sink, cfg};
  Domain domain;
  ref::RefDomain ref;
  std::array<IotlbGather, kGatherSlots> gathers{};
  std::array<ref::GatherId, kGatherSlots> ref_gathers{};

  Harness(const ref::DomainConfig& c, const IommuDriverConfig& d)
      : cfg(c), driver(sink, d), ops(cfg, driver), domain(ops, driver, cfg), ref(cfg) {
    ops.set_observer(&shadow);
    for (auto& g : ref_gathers) g = ref.new_gather();
  }

  // Applies op to both; returns whether their answers agreed.
  bool apply(const Op& op) {
    const uint64_t pg = cfg.min_pgsize();
    const uint64_t iova = op.iova * pg, size = op.pages * pg;
    const uint64_t paddr = (op.paddr * pg) | (op.prot & IOMMU_READ ? iova & 0xfffff : 0);
    switch (op.kind) {
      case OpKind::kMap: return domain.map(iova, paddr, size, op.prot) == ref.map(iova, paddr, size, op.prot);
      case OpKind::kMapNosync:
        return domain.map_nosync(iova, paddr, size, op.prot) == ref.map_nosync(iova, paddr, size, op.prot);
      case OpKind::kSyncMap:
        domain.iotlb_sync_map(iova, size);
        ref.iotlb_sync_map(iova, size);
        return true;
      case OpKind::kUnmap: return domain.unmap(iova, size) == ref.unmap(iova, size);
      case OpKind::kUnmapFast:
        return domain.unmap_fast(iova, size, gathers[op.slot]) ==
               ref.unmap_fast(iova, size, ref_gathers[op.slot]);
      case OpKind::kSync:
        domain.iotlb_sync(gathers[op.slot]);
        ref.iotlb_sync(ref_gathers[op.slot]);
        return true;
      case OpKind::kMapSg: {
        const std::vector<ref::Segment> segs{{paddr, pg * (1 + op.pages % 3)},
                                             {paddr + pg * (1 + op.pages % 3), size + pg},
                                             {paddr + 0x100000, pg}};
        return domain.map_sg(iova, segs, op.prot) == ref.map_sg(iova, segs, op.prot);
      }
      case OpKind::kFlushAll:
        domain.flush_iotlb_all();
        ref.flush_iotlb_all();
        return true;
    }
    return false;
  }

  void check_state(const Op& op) {
    RC_ASSERT(ops.ref().leaves().runs() == ref.pgtable().leaves().runs());
    const uint64_t pg = cfg.min_pgsize();
    for (uint64_t p = op.iova; p < op.iova + std::min<uint64_t>(op.pages, 64) + 1; ++p)
      RC_ASSERT(domain.iova_to_phys(p * pg + 8) == ref.iova_to_phys(p * pg + 8));
    for (const ref::LeafInfo& l : sink.stale()) {
      for (uint64_t at = l.iova; at <= l.last() && at >= l.iova; at += pg) {
        const ref::Observation seen{l.paddr + (at - l.iova), l.prot};
        const ref::DeviceView view = ref.device_view(at);
        const bool allowed = view.current == seen ||
                             std::find(view.stale.begin(), view.stale.end(), seen) != view.stale.end();
        RC_ASSERT_FALSE(!allowed && (RC_LOG() << "stale translation at " << at
                                              << " survives where the reference forbids it\n", true));
      }
    }
    for (const auto& [page, size] : sink.cached_faults()) {
      if (!ref.pgtable().leaves().leaf_at(page)) continue;
      RC_ASSERT_FALSE(!ref.device_view(page).may_fault &&
                      (RC_LOG() << "cached fault at " << page << " hides a published mapping\n", true));
    }
  }
};

std::vector<IommuDriverConfig> styles_for(const ref::DomainConfig& cfg) {
  std::vector<IommuDriverConfig> out{{.style = IommuStyle::kVtd, .ctx = kCtx, .np_caching = cfg.np_caching},
                                     {.style = IommuStyle::kAmd, .ctx = kCtx, .np_caching = cfg.np_caching}};
  // SMMUv3 leaf TTLs need LPAE page sizes, and SMMUv3 never caches non-present entries.
  if (!cfg.np_caching && (cfg.pgsize_bitmap & 0x10000) == 0) {
    out.push_back({.style = IommuStyle::kSmmuV3, .ctx = kCtx});
    out.push_back({.style = IommuStyle::kSmmuV3, .ctx = kCtx, .smmu_range_inv = false});
  }
  return out;
}

void check(const ref::DomainConfig& cfg, const IommuDriverConfig& style) {
  const unsigned page_bits = cfg.ias - 12;
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op(page_bits));
  Harness h(cfg, style);
  for (const Op& op : ops) {
    RC_ASSERT(h.apply(op));
    h.check_state(op);
  }
  // Draining every gather and the flush queue leaves nothing for a device to see.
  for (size_t s = 0; s < kGatherSlots; ++s) h.domain.iotlb_sync(h.gathers[s]);
  h.domain.flush_iotlb_all();
  RC_ASSERT(h.sink.stale().empty());
}

std::string style_name(const IommuDriverConfig& d) {
  switch (d.style) {
    case IommuStyle::kSmmuV3: return d.smmu_range_inv ? "smmuv3" : "smmuv3-norange";
    case IommuStyle::kVtd: return "vt-d";
    case IommuStyle::kAmd: return "amd";
    case IommuStyle::kRiscv: return "riscv";
  }
  return "?";
}

// Every configuration with every driver style that can serve it, each its own RapidCheck run
// (100 random sequences by default, RC_PARAMS to change).
TEST(DomainAgreement, MatchesRefDomainInEveryConfigurationAndStyle) {
  for (const ref::DomainConfig& cfg : ref::selfcheck_configs()) {
    for (const IommuDriverConfig& style : styles_for(cfg)) {
      const std::string what = ref::describe(cfg) + " " + style_name(style);
      EXPECT_TRUE(rc::check(what, [&] { check(cfg, style); })) << what;
    }
  }
}

// impl's iommu_pgsize against ref's on every selfcheck bitmap and random ones, at aligned and
// unaligned addresses, the top of the space and size 0: the same size and count, and an
// exception exactly where ref has no answer. A 2^63 size in the bitmap makes the boundary
// arithmetic overflow.
TEST(DomainAgreement, PageSizeChoiceMatchesRef) {
  std::mt19937_64 rng(5);
  std::vector<uint64_t> bitmaps;
  for (const ref::DomainConfig& cfg : ref::selfcheck_configs())
    bitmaps.push_back(cfg.pgsize_bitmap);
  for (int i = 0; i < 20; ++i)
    bitmaps.push_back((rng() & genmask(i % 2 ? 63 : 62, 12)) |
                      bit(static_cast<unsigned>(12 + rng() % 20)));
  bitmaps.push_back(bit(63) | bit(12));
  auto value = [&](uint64_t min) -> uint64_t {
    switch (rng() % 5) {
      case 0: return 0;
      case 1: return ~uint64_t{0} - (rng() % 4) * min - (min - 1);  // the top of the space
      case 2: return rng() & ~(min - 1);
      case 3: return (rng() % 4096) * min;
      default: return rng();  // mostly unaligned
    }
  };
  for (uint64_t bitmap : bitmaps) {
    const uint64_t min = bitmap & (~bitmap + 1);
    for (int i = 0; i < 2000; ++i) {
      const uint64_t iova = value(min), paddr = rng() % 2 ? iova : value(min), size = value(min);
      const std::optional<PgsizeChoice> want = ::iommu::iommu_pgsize(bitmap, iova, paddr, size);
      uint64_t count = 0;
      if (!want) {
        EXPECT_THROW(iommu_pgsize(bitmap, iova, paddr, size, &count), std::logic_error);
        continue;
      }
      const uint64_t pgsize = iommu_pgsize(bitmap, iova, paddr, size, &count);
      ASSERT_EQ((PgsizeChoice{pgsize, count}), *want)
          << std::hex << "bitmap " << bitmap << " iova " << iova << " paddr " << paddr << " size "
          << size;
    }
  }
}

// map_sg's merging and its errors, beside ref's: contiguous entries merged across a table
// boundary, a gap, an empty list, a zero-length entry in the middle, at the end and first,
// and a run that meets a live mapping (-EEXIST) after others were mapped.
TEST(DomainAgreement, MapSgMatchesRef) {
  const ref::DomainConfig cfg{.pgsize_bitmap = 0x201000, .ias = 24, .oas = 24};
  const uint64_t pg = cfg.min_pgsize();
  const std::vector<std::vector<Segment>> lists = {
      {{0x400000, pg}, {0x400000 + pg, 3 * pg}, {0x500000, 2 * pg}},
      {{0x400000, 0x1ff * pg}, {0x400000 + 0x1ff * pg, 2 * pg}},
      {},
      {{0x400000, pg}, {0x400000 + pg, 0}, {0x400000 + pg, pg}},
      {{0x400000, pg}, {0x500000, pg}, {0x600000, 0}},
      {{0x400000, 0}},
      {{0x400000, pg}, {0x500000, pg}, {0x600000, 0x400 * pg}},
  };
  for (const auto& segs : lists) {
    SCOPED_TRACE(::testing::Message() << segs.size() << " entries");
    Harness h(cfg, styles_for(cfg).front());
    const uint64_t live = 0x200000 + 0x202 * pg;  // the last list's third run meets it
    ASSERT_EQ(h.domain.map(live, 0xf00000, pg, IOMMU_READ), 0);
    ASSERT_EQ(h.ref.map(live, 0xf00000, pg, IOMMU_READ), 0);
    EXPECT_EQ(h.domain.map_sg(0x200000, segs, IOMMU_READ),
              h.ref.map_sg(0x200000, segs, IOMMU_READ));
    EXPECT_EQ(h.ops.ref().leaves().runs(), h.ref.pgtable().leaves().runs());
  }
}

}  // namespace
}  // namespace iommu::impl
