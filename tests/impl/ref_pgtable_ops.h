// Test-only page table: ref::RefPgtable behind IoPgtableOps, so the core layer can be tested
// without the impl engine. Like io-pgtable it calls FlushOps::tlb_add_page once for every leaf
// it removes (with the leaf's size; for a split leaf, once per removed piece of the unmap's
// pgsize, as Linux 6.12 LPAE does), unless the gather is queued. An observer hears what
// changed, for shadow checks and for mirroring the table into hw memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "impl/io_pgtable.h"
#include "ref/pgtable.h"

namespace iommu::impl::testing {

class PgtableObserver {
 public:
  virtual ~PgtableObserver() = default;
  // [iova, iova + size) was just mapped.
  virtual void mapped(uint64_t /*iova*/, uint64_t /*size*/) {}
  // A leaf, or the removed part of a split leaf, left the table.
  virtual void removed(const ref::LeafInfo& /*leaf*/) {}
  // Everything the table changed lies inside [first, last].
  virtual void changed(uint64_t /*first*/, uint64_t /*last*/) {}
};

class RefPgtableOps : public IoPgtableOps {
 public:
  RefPgtableOps(const ref::DomainConfig& cfg, FlushOps& flush) : ref_(cfg), flush_(flush) {}

  void set_observer(PgtableObserver* observer) { observer_ = observer; }
  // A split reports the whole cut leaf to tlb_add_page instead of the removed pieces (what
  // Linux 6.12 does), so that a cached block is covered whatever the TTL or PSI rules.
  void set_split_flushes_whole_leaf(bool on) { split_flushes_whole_leaf_ = on; }
  const ref::RefPgtable& ref() const { return ref_; }
  uint64_t map_calls() const { return map_calls_; }
  uint64_t unmap_calls() const { return unmap_calls_; }

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    ++map_calls_;
    const ref::MapPagesResult r = ref_.map_pages({iova, paddr, pgsize, pgcount, prot});
    *mapped += r.mapped;
    if (r.mapped != 0 && observer_) {
      observer_->mapped(iova, r.mapped);
      observer_->changed(iova, iova + (r.mapped - 1));
    }
    return r.ret;
  }

  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       IotlbGather* gather) override {
    ++unmap_calls_;
    const auto [first, last] = window(iova, pgsize, pgcount);
    const std::vector<ref::LeafInfo> before = leaves_in(first, last);
    const uint64_t n = ref_.unmap_pages({iova, pgsize, pgcount});
    if (n == 0) return 0;
    for (const ref::LeafInfo& leaf : before) {
      if (ref_.leaves().leaf_at(leaf.iova) == leaf) continue;
      for (const ref::LeafInfo& piece : removed_pieces(leaf, iova, n, pgsize)) {
        if (observer_) observer_->removed(piece);
        if (gather && !gather->queued) flush_.tlb_add_page(*gather, piece.iova, piece.pgsize);
      }
    }
    if (observer_) observer_->changed(first, last);
    return n;
  }

  uint64_t iova_to_phys(uint64_t iova) override { return ref_.iova_to_phys(iova).value_or(0); }

 private:
  // Every leaf an unmap_pages call may touch: from the leaf holding iova to the one holding
  // the last requested byte (WHOLE removes leaves that stick out at either end).
  std::pair<uint64_t, uint64_t> window(uint64_t iova, uint64_t pgsize, uint64_t pgcount) const {
    uint64_t first = iova, last = iova;
    uint64_t span = 0;
    if (pgsize != 0 && pgcount != 0) {
      const bool wraps = __builtin_mul_overflow(pgsize, pgcount, &span) || span - 1 > ~uint64_t{0} - iova;
      last = wraps ? ~uint64_t{0} : iova + (span - 1);
    }
    if (auto l = ref_.leaves().leaf_at(first)) first = l->iova;
    if (auto l = ref_.leaves().leaf_at(last)) last = std::max(last, l->last());
    return {first, last};
  }

  std::vector<ref::LeafInfo> leaves_in(uint64_t first, uint64_t last) const {
    std::vector<ref::LeafInfo> out;
    for (const ref::LeafRun& run : ref_.leaves().runs_in(first, last)) {
      const uint64_t lo = run.iova < first ? (first - run.iova) / run.pgsize : 0;
      const uint64_t hi = std::min(run.count - 1, (last - run.iova) / run.pgsize);
      for (uint64_t k = lo; k <= hi; ++k)
        out.push_back({run.iova + k * run.pgsize, run.paddr + k * run.pgsize, run.pgsize, run.prot});
    }
    return out;
  }

  // A leaf that is gone or changed: all of it under WHOLE or when the unmap covered it, else
  // (a split) the covered part as pieces of the unmap's pgsize.
  std::vector<ref::LeafInfo> removed_pieces(const ref::LeafInfo& leaf, uint64_t iova, uint64_t n,
                                            uint64_t pgsize) const {
    const uint64_t lo = std::max(leaf.iova, iova), hi = std::min(leaf.last(), iova + (n - 1));
    if (ref_.config().partial_unmap == ref::PartialUnmap::kWhole || split_flushes_whole_leaf_ ||
        (lo == leaf.iova && hi == leaf.last())) {
      return {leaf};
    }
    std::vector<ref::LeafInfo> out;
    for (uint64_t at = lo; at <= hi && at >= lo; at += pgsize)
      out.push_back({at, leaf.paddr + (at - leaf.iova), pgsize, leaf.prot});
    return out;
  }

  ref::RefPgtable ref_;
  FlushOps& flush_;
  PgtableObserver* observer_ = nullptr;
  bool split_flushes_whole_leaf_ = false;
  uint64_t map_calls_ = 0;
  uint64_t unmap_calls_ = 0;
};

}  // namespace iommu::impl::testing
