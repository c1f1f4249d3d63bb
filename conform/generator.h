// Op generation for campaigns: a seeded stream of ops that reaches the hard cases (runs that
// cross table boundaries, pgcount > 1, every page size, map_sg with mergeable and
// unmergeable segments, interleaved lazy unmaps and flushes, the top of the ias) and, in
// hostile mode, caller misuse. Each op is chosen against the reference state, so a contract
// campaign only makes calls a correct caller makes (ref/caller_contract.h).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "conform/op.h"
#include "ref/config.h"
#include "ref/domain.h"

namespace iommu::conform {

enum class CallerMode { kContract, kHostile };

struct GeneratorConfig {
  CallerMode mode = CallerMode::kContract;
  uint64_t seed = 0;
  // A map covers at most this many pages of its page size, which bounds the work per op.
  uint64_t max_pgcount = 640;
};

class OpGenerator {
 public:
  OpGenerator(const ref::DomainConfig& cfg, const GeneratorConfig& gen);

  Op next(const ref::RefDomain& state);

  // Hot regions of the iova space where ops land (low, top of the ias, a few in between), so
  // ops collide, share tables and reuse freed ones.
  const std::vector<uint64_t>& windows() const { return windows_; }
  uint64_t window_size() const { return window_size_; }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  uint64_t pick_pgsize();
  uint64_t pick_iova(uint64_t align);
  uint64_t pick_paddr(uint64_t iova, uint64_t size);
  int pick_prot();
  uint64_t pick_mapped_iova(const ref::RefDomain& state);

  std::optional<Op> map(const ref::RefDomain& state, bool nosync);
  std::optional<Op> map_sg(const ref::RefDomain& state);
  std::optional<Op> unmap(const ref::RefDomain& state, bool fast);
  std::optional<std::pair<uint64_t, uint64_t>> partial_unmap(const ref::RefDomain& state);
  std::optional<Op> map_pages(const ref::RefDomain& state);
  std::optional<Op> unmap_pages(const ref::RefDomain& state);
  GatherLabel open_gather();
  std::optional<Op> sync(const ref::RefDomain& state);
  Op access(const ref::RefDomain& state);
  Op misuse(const ref::RefDomain& state);

  ref::DomainConfig cfg_;
  GeneratorConfig gen_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> pgsizes_;  // ascending
  std::vector<uint64_t> windows_;
  uint64_t window_size_ = 0;
  std::vector<GatherLabel> open_gathers_;  // unmap_fast'ed and not yet synced
  uint64_t last_iova_ = 0;
};

}  // namespace iommu::conform
