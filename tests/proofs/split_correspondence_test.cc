// The uint64_t instances of proofs/split_model.h against the core's loops as they run
// (impl::Domain, the same loops as ref::RefDomain): the page-table calls the model predicts
// are exactly the calls iommu_map, iommu_unmap and iommu_map_sg make, on random requests and
// page tables that stop early at random table boundaries.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/bits.h"
#include "impl/domain.h"
#include "proofs/split_model.h"

namespace iommu::proofs {
namespace {

struct Call {
  char op;
  uint64_t iova, paddr, pgsize, count;
  bool operator==(const Call&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Call& c) {
  return os << c.op << std::hex << "(iova " << c.iova << " paddr " << c.paddr << " pgsize "
            << c.pgsize << std::dec << " count " << c.count << ")";
}

// Bytes a page table takes from iova before stopping: up to the next boundary of `table`
// (a table's span), at least one page.
uint64_t room(uint64_t iova, uint64_t pgsize, uint64_t table) {
  const uint64_t to_end = table - (iova & (table - 1));
  return to_end < pgsize ? pgsize : to_end & ~(pgsize - 1);
}

// A page table that records every call and maps or unmaps min(count, room) pages.
class SpyOps : public impl::IoPgtableOps {
 public:
  explicit SpyOps(uint64_t table) : table_(table) {}
  std::vector<Call> calls;
  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int,
                uint64_t* mapped) override {
    calls.push_back({'m', iova, paddr, pgsize, pgcount});
    *mapped += std::min(pgcount * pgsize, room(iova, pgsize, table_));
    return 0;
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather*) override {
    calls.push_back({'u', iova, iova, pgsize, pgcount});
    return std::min(pgcount * pgsize, room(iova, pgsize, table_));
  }
  uint64_t iova_to_phys(uint64_t) override { return 0; }

 private:
  uint64_t table_;
};

class NullSink : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

struct Core {
  ref::DomainConfig cfg;
  NullSink sink;
  impl::IommuDriver driver{sink, {}};
  SpyOps ops;
  impl::Domain domain;
  Core(uint64_t bitmap, uint64_t table)
      : cfg{.pgsize_bitmap = bitmap, .ias = 64, .oas = 64}, ops(table), domain(ops, driver, cfg) {}
};

std::vector<Call> model_map(uint64_t bitmap, uint64_t iova, uint64_t paddr, uint64_t size,
                            uint64_t table) {
  std::vector<Call> calls;
  MapState<uint64_t> s{iova, paddr, size};
  while (s.size != 0) {
    const PgsizeModel<uint64_t> c = pgsize_model(bitmap, s.iova, s.paddr, s.size);
    const MapTurn<uint64_t> t = map_turn(bitmap, s, room(s.iova, c.pgsize, table));
    calls.push_back({'m', s.iova, s.paddr, t.choice.pgsize, t.choice.count});
    s = t.next;
  }
  return calls;
}

std::vector<Call> model_unmap(uint64_t bitmap, uint64_t iova, uint64_t size, uint64_t table) {
  std::vector<Call> calls;
  UnmapState<uint64_t> s{iova, 0};
  while (s.unmapped < size) {
    const PgsizeModel<uint64_t> c = pgsize_model(bitmap, s.iova, s.iova, size - s.unmapped);
    const UnmapTurn<uint64_t> t = unmap_turn(bitmap, size, s, room(s.iova, c.pgsize, table));
    calls.push_back({'u', s.iova, s.iova, t.choice.pgsize, t.choice.count});
    s = t.next;
  }
  return calls;
}

// A bitmap of up to four sizes below 2^40, and a table span that is one of them or larger.
struct Bitmaps {
  uint64_t bitmap, table;
};

Bitmaps random_setup(std::mt19937_64& rng) {
  uint64_t bitmap = 0;
  for (int k = 0; k < 4; k++) bitmap |= bit(12 + static_cast<unsigned>(rng() % 28));
  return {bitmap, bit(fls64_idx(bitmap) + static_cast<unsigned>(rng() % 4))};
}

uint64_t aligned_random(std::mt19937_64& rng, uint64_t min, unsigned bits) {
  return (rng() & low_mask(bits)) & ~(min - 1);
}

TEST(SplitCorrespondence, MapCallsAreTheModelsTurns) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 3000; i++) {
    const Bitmaps st = random_setup(rng);
    const uint64_t min = st.bitmap & -st.bitmap;
    const uint64_t iova = aligned_random(rng, min, 44), paddr = aligned_random(rng, min, 44);
    const uint64_t size = aligned_random(rng, min, static_cast<unsigned>(20 + rng() % 22));
    Core core(st.bitmap, st.table);
    ASSERT_EQ(core.domain.map_nosync(iova, paddr, size, 3), 0);
    ASSERT_EQ(core.ops.calls, model_map(st.bitmap, iova, paddr, size, st.table));
  }
}

TEST(SplitCorrespondence, UnmapCallsAreTheModelsTurns) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 3000; i++) {
    const Bitmaps st = random_setup(rng);
    const uint64_t min = st.bitmap & -st.bitmap;
    const uint64_t iova = aligned_random(rng, min, 44);
    const uint64_t size = aligned_random(rng, min, static_cast<unsigned>(20 + rng() % 22));
    Core core(st.bitmap, st.table);
    ASSERT_EQ(core.domain.unmap(iova, size), size);
    ASSERT_EQ(core.ops.calls, model_unmap(st.bitmap, iova, size, st.table));
  }
}

TEST(SplitCorrespondence, MapSgMapsTheModelsRuns) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; i++) {
    const Bitmaps st = random_setup(rng);
    const uint64_t min = st.bitmap & -st.bitmap;
    std::vector<::iommu::Segment> segs;
    std::vector<Segment<uint64_t>> model_segs;
    uint64_t paddr = aligned_random(rng, min, 40);
    for (size_t n = 1 + rng() % 6; n > 0; n--) {
      const uint64_t len = min * (1 + rng() % 8);
      if (rng() % 2) paddr = aligned_random(rng, min, 40);  // else contiguous with the last
      segs.push_back({paddr, len});
      model_segs.push_back({paddr, len});
      paddr += len;
    }
    const uint64_t iova = aligned_random(rng, min, 44);
    Core core(st.bitmap, st.table);
    ASSERT_GT(core.domain.map_sg(iova, segs, 3), 0);
    std::vector<Call> want;
    for (const proofs::Run<uint64_t>& r : merge_runs(model_segs))
      if (r.valid)
        for (const Call& c : model_map(st.bitmap, iova + r.offset, r.paddr, r.length, st.table))
          want.push_back(c);
    ASSERT_EQ(core.ops.calls, want);
  }
}

}  // namespace
}  // namespace iommu::proofs
