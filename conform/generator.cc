#include "conform/generator.h"

#include <algorithm>
#include <tuple>

#include "base/bits.h"
#include "base/prot.h"
#include "ref/caller_contract.h"

namespace iommu::conform {
namespace {

// The last byte of an address space of `bits` bits (bits may be 64).
uint64_t space_last(unsigned bits) { return low_mask(bits); }

constexpr GatherLabel kGathers = 3;

}  // namespace

OpGenerator::OpGenerator(const ref::DomainConfig& cfg, const GeneratorConfig& gen)
    : cfg_(cfg), gen_(gen), rng_(gen.seed) {
  for (uint64_t b = cfg.pgsize_bitmap; b != 0; b &= b - 1) pgsizes_.push_back(b & (~b + 1));
  const uint64_t min = pgsizes_.front();
  window_size_ = std::max(pgsizes_.back() * 4, min << 13);
  if (window_size_ - 1 > space_last(cfg.ias)) window_size_ = space_last(cfg.ias) / 2 + 1;
  // Window-aligned bases: the lowest, the highest (ending at the top of the ias), two random.
  const uint64_t slots = space_last(cfg.ias) / window_size_ + 1;
  windows_ = {0, (slots - 1) * window_size_, below(slots) * window_size_,
              below(slots) * window_size_};
}

uint64_t OpGenerator::pick_pgsize() {
  // Small pages most often: they make the runs, boundaries and splits.
  size_t i = 0;
  while (i + 1 < pgsizes_.size() && chance(35)) i++;
  return pgsizes_[i];
}

uint64_t OpGenerator::pick_iova(uint64_t align) {
  const uint64_t base = windows_[below(windows_.size())];
  uint64_t off = below(window_size_ / align) * align;
  if (chance(30)) {
    // End a few pages before a boundary of a larger page or of a table, so runs cross it.
    uint64_t span = pgsizes_[below(pgsizes_.size())];
    if (chance(50) && span <= window_size_ / 512) span *= 512;
    const uint64_t back = (1 + below(4)) * align;
    if (span <= window_size_ && back < span) off = below(window_size_ / span) * span + span - back;
  }
  return base + off % window_size_;
}

uint64_t OpGenerator::pick_paddr(uint64_t iova, uint64_t size) {
  const uint64_t min = pgsizes_.front();
  const uint64_t room = space_last(cfg_.oas) - (size - 1);  // highest start that fits
  if (chance(70)) {
    // Congruent with iova modulo the largest page, so large leaves are possible.
    uint64_t l = pgsizes_.back();
    while (l > min && room / l < 2) l >>= 1;
    const uint64_t base = below(room / l - 1) * l;
    return base + (iova & (l - 1));
  }
  return below(room / min) * min;
}

int OpGenerator::pick_prot() {
  static constexpr int kAccess[] = {IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                                    IOMMU_READ | IOMMU_WRITE};
  int prot = kAccess[below(4)];
  if (chance(30)) prot |= IOMMU_CACHE;
  if (chance(15)) prot |= IOMMU_NOEXEC;
  if (chance(10)) prot |= IOMMU_PRIV;
  if (chance(5)) prot |= IOMMU_MMIO;
  return prot;
}

// An iova inside a live mapping near a random point of a window (any window iova when
// nothing is mapped).
uint64_t OpGenerator::pick_mapped_iova(const ref::RefDomain& state) {
  const auto& runs = state.pgtable().leaves().runs();
  if (runs.empty()) return pick_iova(pgsizes_.front());
  auto it = runs.lower_bound(pick_iova(pgsizes_.front()));
  if (it == runs.end()) it = runs.begin();
  const ref::LeafRun& run = it->second;
  return run.iova + below(run.count) * run.pgsize;
}

// The most pages of one size a map may take (a run of small pages in a mixed map, a map whose
// paddr allows only small pages).
constexpr uint64_t kMaxMixedPages = uint64_t{1} << 18;

std::optional<Op> OpGenerator::map(const ref::RefDomain& state, bool nosync) {
  const uint64_t min = pgsizes_.front();
  const uint64_t pgsize = pick_pgsize();
  uint64_t count = chance(40) ? 1 : chance(70) ? 2 + below(15) : 17 + below(gen_.max_pgcount);
  count = std::min(count, std::max<uint64_t>(1, window_size_ / 2 / pgsize));
  uint64_t size = pgsize * count;
  uint64_t iova = pick_iova(pgsize);
  if (pgsizes_.size() > 1 && chance(25)) {
    // Small pages up to a large-page boundary, large pages, small pages again: iommu_pgsize
    // splits it into runs of mixed sizes.
    // A run of small pages up to the boundary may have to be all small pages (a paddr less
    // aligned than the iova): bounded, so that AMD's 128T pages do not ask for terabytes.
    uint64_t big = pgsizes_[1 + below(pgsizes_.size() - 1)];
    while (big / min > kMaxMixedPages && big > pgsizes_[1]) big >>= 1;
    while (!(cfg_.pgsize_bitmap & big)) big >>= 1;
    const uint64_t head = min * (1 + below(8));
    iova = pick_iova(big) - head;
    size = head + big * (1 + below(3)) + min * below(8);
  }
  if (!fits_bits(iova, size, cfg_.ias)) return std::nullopt;
  MapOp op{iova, pick_paddr(iova, size), size, pick_prot()};
  // Pages no larger than iova and paddr are both aligned to: keep their number bounded (a
  // format with 256T pages has a window of petabytes).
  const uint64_t align = std::max(min, (iova | op.paddr) & (~(iova | op.paddr) + 1));
  if (op.size / align > kMaxMixedPages) op.size = align * kMaxMixedPages;
  if (ref::contract_map(state, op.iova, op.paddr, op.size, op.prot)) return std::nullopt;
  last_iova_ = iova;
  if (nosync) return MapNosyncOp{op.iova, op.paddr, op.size, op.prot};
  return op;
}

std::optional<Op> OpGenerator::map_sg(const ref::RefDomain& state) {
  const uint64_t min = pgsizes_.front();
  MapSgOp op{.iova = pick_iova(min), .prot = pick_prot(), .segs = {}};
  const size_t n = 1 + below(8);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const uint64_t length = min * (1 + below(8));
    // Half the segments continue the previous one physically: the core must merge them.
    const uint64_t paddr = (i > 0 && chance(50))
                               ? op.segs.back().paddr + op.segs.back().length
                               : pick_paddr(op.iova + total, length);
    op.segs.push_back({paddr, length});
    total += length;
  }
  if (!fits_bits(op.iova, total, cfg_.ias)) return std::nullopt;
  if (ref::contract_map_sg(state, op.iova, op.segs, op.prot)) return std::nullopt;
  return op;
}

// An unmap that cuts a leaf where the driver's policy lets a correct caller cut it: SPLIT
// drivers promise to split, so anywhere inside a leaf (a block, a contiguous or replicated
// entry); WHOLE drivers get the Linux core's unmaps that start at a leaf and end inside it, or
// inside a leaf further on, and must remove, count and invalidate it whole.
std::optional<std::pair<uint64_t, uint64_t>> OpGenerator::partial_unmap(
    const ref::RefDomain& state) {
  const ref::LeafMap& leaves = state.pgtable().leaves();
  const uint64_t min = pgsizes_.front();
  // Large leaves are rarer than small ones: look for one a few times.
  auto leaf = leaves.leaf_at(pick_mapped_iova(state));
  for (int i = 0; i < 4 && leaf && leaf->pgsize == min; i++) {
    leaf = leaves.leaf_at(pick_mapped_iova(state));
  }
  if (!leaf) return std::nullopt;
  if (cfg_.partial_unmap == ref::PartialUnmap::kSplit) {
    // Now and then a whole leaf and on into the next, ending inside it: one call that must
    // clear the first and split the second.
    const auto next = leaf->last() == ~uint64_t{0} || !chance(30) ? std::nullopt
                                                                   : leaves.leaf_at(leaf->last() + 1);
    if (next && next->pgsize > min)
      return std::pair{leaf->iova, leaf->pgsize + min * (1 + below(next->pgsize / min - 1))};
    const uint64_t iova = leaf->iova + below(leaf->pgsize / min) * min;
    return std::pair{iova, min * (1 + below((leaf->last() - iova) / min + 1))};
  }
  const uint64_t iova = leaf->iova;
  uint64_t last = leaf->last();
  if (chance(50)) {
    const auto next = last == ~uint64_t{0} ? std::nullopt : leaves.leaf_at(last + 1);
    if (next) last = next->last();
  }
  const auto end_leaf = leaves.leaf_at(last);
  if (end_leaf->pgsize <= min) return std::nullopt;
  return std::pair{iova, end_leaf->iova + min * (1 + below(end_leaf->pgsize / min - 1)) - iova};
}

GatherLabel OpGenerator::open_gather() {
  const GatherLabel gather = 1 + static_cast<GatherLabel>(below(kGathers));
  if (std::find(open_gathers_.begin(), open_gathers_.end(), gather) == open_gathers_.end()) {
    open_gathers_.push_back(gather);
  }
  return gather;
}

std::optional<Op> OpGenerator::unmap(const ref::RefDomain& state, bool fast) {
  const ref::LeafMap& leaves = state.pgtable().leaves();
  const auto leaf = leaves.leaf_at(pick_mapped_iova(state));
  if (!leaf) return std::nullopt;
  auto run = leaves.runs_in(leaf->iova, leaf->last()).front();
  uint64_t iova = leaf->iova, size = leaf->pgsize;
  const auto partial = cfg_.partial_unmap != ref::PartialUnmap::kRefuse && chance(15)
                           ? partial_unmap(state)
                           : std::nullopt;
  if (partial) {
    std::tie(iova, size) = *partial;
  } else if (chance(50)) {
    // The rest of the run, then possibly the runs that follow it without a hole.
    size = run.last() - iova + 1;
    while (chance(40)) {
      const auto next = leaves.leaf_at(run.last() + 1);
      if (!next || run.last() == ~uint64_t{0}) break;
      run = leaves.runs_in(next->iova, next->last()).front();
      size = run.last() - iova + 1;
    }
  } else if (chance(50)) {
    size = leaf->pgsize * (1 + below((run.last() - iova) / leaf->pgsize + 1));
  }
  if (ref::contract_unmap(state, iova, size)) return std::nullopt;
  if (!fast) return UnmapOp{iova, size};
  return UnmapFastOp{iova, size, open_gather()};
}

// io_pgtable_ops called directly, as a DMA layer or a caller of its own would: runs that cross
// a table's end, where a driver may stop early and return what it mapped.
std::optional<Op> OpGenerator::map_pages(const ref::RefDomain& state) {
  const uint64_t pgsize = pick_pgsize();
  const uint64_t pgcount = chance(40) ? 1 : 2 + below(std::min<uint64_t>(gen_.max_pgcount, 32));
  const uint64_t iova = pick_iova(pgsize);
  if (!fits_bits(iova, pgsize * pgcount, cfg_.ias)) return std::nullopt;
  MapPagesOp op{iova, pick_paddr(iova, pgsize * pgcount) & ~(pgsize - 1), pgsize, pgcount,
                pick_prot()};
  if (ref::contract_map_pages(state, {op.iova, op.paddr, op.pgsize, op.pgcount, op.prot})) {
    return std::nullopt;
  }
  last_iova_ = iova;
  return op;
}

// The leaves of one run from its start, or (where the policy allows) a cut of a leaf in pages
// of the smallest size.
std::optional<Op> OpGenerator::unmap_pages(const ref::RefDomain& state) {
  const ref::LeafMap& leaves = state.pgtable().leaves();
  const auto leaf = leaves.leaf_at(pick_mapped_iova(state));
  if (!leaf) return std::nullopt;
  const auto run = leaves.runs_in(leaf->iova, leaf->last()).front();
  UnmapPagesOp op{leaf->iova, leaf->pgsize, 1 + below((run.last() - leaf->iova) / leaf->pgsize + 1),
                  std::nullopt};
  const auto partial = cfg_.partial_unmap != ref::PartialUnmap::kRefuse && chance(20)
                           ? partial_unmap(state)
                           : std::nullopt;
  if (partial) op = {partial->first, pgsizes_.front(), partial->second / pgsizes_.front(), {}};
  if (ref::contract_unmap_pages(state, {op.iova, op.pgsize, op.pgcount})) return std::nullopt;
  if (chance(30)) op.gather = open_gather();
  return op;
}

std::optional<Op> OpGenerator::sync(const ref::RefDomain& state) {
  if (!open_gathers_.empty() && chance(70)) {
    const size_t i = below(open_gathers_.size());
    const GatherLabel g = open_gathers_[i];
    open_gathers_.erase(open_gathers_.begin() + static_cast<std::ptrdiff_t>(i));
    return IotlbSyncOp{g};
  }
  if (cfg_.np_caching && chance(50)) {
    const uint64_t size = pgsizes_.front() * (1 + below(512));
    if (fits_bits(last_iova_, size, cfg_.ias)) return IotlbSyncMapOp{last_iova_, size};
  }
  if (state.stale().size() == 0 && chance(70)) return std::nullopt;
  return FlushIotlbAllOp{};
}

Op OpGenerator::access(const ref::RefDomain& state) {
  const uint64_t iova =
      chance(70) ? pick_mapped_iova(state) + below(pgsizes_.front()) : pick_iova(pgsizes_.front());
  const bool priv = chance(20);
  if (chance(50)) return WriteOp{.iova = iova, .priv = priv};
  return ReadOp{.iova = iova, .priv = priv, .exec = chance(15)};
}

// Calls a correct caller never makes: each expects an error (or a 0 return) and no change.
Op OpGenerator::misuse(const ref::RefDomain& state) {
  const uint64_t min = pgsizes_.front();
  const uint64_t mapped = pick_mapped_iova(state);
  const uint64_t top = space_last(cfg_.ias) - min + 1;
  switch (below(11)) {
    case 0: return MapOp{mapped, pick_paddr(mapped, min), min, IOMMU_READ};  // overlap
    case 1: return MapOp{pick_iova(min) + min / 2, 0, min, IOMMU_READ};       // unaligned iova
    case 2: return MapOp{pick_iova(min), pick_paddr(0, min) + 0x800, min, IOMMU_READ};
    case 3: return MapOp{top, 0, 2 * min, IOMMU_WRITE};  // runs past the ias
    case 4: return MapOp{pick_iova(min), 0, min, chance(50) ? 0 : IOMMU_CACHE};
    case 5: return UnmapOp{pick_iova(min), min * (1 + below(4))};  // likely a hole
    case 6: {
      // The middle of a large leaf: a partial unmap, answered by the declared policy.
      const auto leaf = state.pgtable().leaves().leaf_at(mapped);
      if (leaf && leaf->pgsize > min) return UnmapOp{leaf->iova + min * (1 + below(4)), min};
      return UnmapOp{mapped + min / 2, min};
    }
    case 7: return UnmapOp{mapped, 0};
    case 8: return MapPagesOp{top - min, 0, min, 4, IOMMU_WRITE};  // pages past the ias
    case 9: return UnmapPagesOp{pick_iova(min), min, 1 + below(4), std::nullopt};  // a hole?
    default: return MapSgOp{.iova = pick_iova(min), .prot = IOMMU_READ, .segs = {{0, min}, {min, 0}}};
  }
}

Op OpGenerator::next(const ref::RefDomain& state) {
  if (gen_.mode == CallerMode::kHostile && chance(25)) return misuse(state);
  // A table allocation fails now and then, so that the driver's -ENOMEM paths run.
  if (chance(3)) return FailAllocOp{1 + below(3)};
  const bool lazy = cfg_.invalidation == ref::Invalidation::kLazy;
  for (int attempt = 0; attempt < 8; attempt++) {
    const uint64_t roll = below(100);
    std::optional<Op> op;
    if (roll < 26) op = map(state, false);
    else if (roll < 31) op = map(state, cfg_.np_caching);
    else if (roll < 39) op = map_sg(state);
    else if (roll < 45) op = map_pages(state);
    else if (roll < 65) op = unmap(state, false);
    else if (roll < 72) op = unmap(state, true);
    else if (roll < 78) op = unmap_pages(state);
    else if (roll < (lazy ? 90u : 86u)) op = sync(state);
    else if (roll < 98) op = access(state);
    else op = IovaToPhysOp{pick_mapped_iova(state)};
    if (op) return *op;
  }
  // A crowded or stale space: settle what is outstanding before mapping more.
  if (!open_gathers_.empty() || state.stale().size() != 0) {
    if (auto op = sync(state)) return *op;
    return FlushIotlbAllOp{};
  }
  return access(state);
}

}  // namespace iommu::conform
