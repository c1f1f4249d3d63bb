// The op streams of a concurrent campaign (conform/concurrent.h): who owns which iova, where
// each round's ops land, and each thread's next op chosen against its own reference.
// Internal to conform/.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "conform/op.h"
#include "ref/pgtable.h"

namespace iommu::conform {

// Thread t owns the stripes [k * stride + t * stripe, + stripe) for every k, where stride is
// threads * stripe: neighbouring stripes belong to different threads, so every table above a
// stripe is shared. Each round the threads work in one region of a few strides, so they race
// to install (or split under) the same upper tables; every 32 rounds bring four fresh regions
// where those tables do not exist yet.
class StripeLayout {
 public:
  // `stripe` is one of the driver's page sizes below its largest (the smallest when it has
  // one), chosen by the episode seed.
  StripeLayout(const ref::DomainConfig& cfg, unsigned threads, uint64_t episode_seed);

  uint64_t stripe() const { return stripe_; }
  unsigned threads() const { return threads_; }
  static constexpr uint64_t kStridesPerRegion = 4;
  // The first iova of round r's region (aligned to the region size).
  uint64_t region(uint64_t round) const;
  // The stripe of `thread` in the region at `k` < kStridesPerRegion.
  uint64_t stripe_base(uint64_t region, uint64_t k, unsigned thread) const {
    return region + (k * threads_ + thread) * stripe_;
  }

 private:
  unsigned threads_;
  uint64_t seed_;
  uint64_t stripe_;
  uint64_t region_bytes_;  // a power of two holding kStridesPerRegion strides
  uint64_t regions_;       // how many aligned regions the ias holds
};

class ThreadOps {
 public:
  ThreadOps(const ref::DomainConfig& cfg, const StripeLayout& layout, unsigned thread,
            uint64_t seed);
  // The thread's op for `round`, chosen against its reference `ref`: a map_pages into a free
  // part of one of its stripes in the round's region, or an unmap_pages of what it mapped
  // (whole leaves, or for SPLIT drivers sometimes a cut inside a block); iova_to_phys of the
  // region when it has nothing to unmap and found no free room.
  Op next(const ref::RefPgtable& ref, uint64_t round);

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  std::optional<Op> map(const ref::RefPgtable& ref, uint64_t region);
  std::optional<Op> unmap(const ref::RefPgtable& ref);
  std::optional<Op> cut(const ref::LeafRun& run);

  ref::DomainConfig cfg_;
  const StripeLayout& layout_;
  unsigned thread_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> pgsizes_;  // ascending, up to the stripe
};

}  // namespace iommu::conform
