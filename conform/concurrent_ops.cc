#include "conform/concurrent_ops.h"

#include <algorithm>
#include <bit>
#include <iterator>

#include "base/prot.h"

namespace iommu::conform {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

std::vector<uint64_t> page_sizes(uint64_t bitmap) {
  std::vector<uint64_t> out;
  for (uint64_t b = bitmap; b; b &= b - 1) out.push_back(b & (~b + 1));
  return out;
}

constexpr uint64_t kRoundsPerEpoch = 32;
constexpr uint64_t kRegionsPerEpoch = 4;
constexpr uint64_t kMaxPgcount = 8;

}  // namespace

StripeLayout::StripeLayout(const ref::DomainConfig& cfg, unsigned threads, uint64_t episode_seed)
    : threads_(threads), seed_(mix(episode_seed)) {
  const std::vector<uint64_t> sizes = page_sizes(cfg.pgsize_bitmap);
  const size_t choices = std::max<size_t>(1, sizes.size() - 1);
  stripe_ = sizes[seed_ % choices];
  region_bytes_ = std::bit_ceil(kStridesPerRegion * threads * stripe_);
  const uint64_t space_bits = std::min(cfg.ias, 63u);
  regions_ = std::max<uint64_t>(1, (uint64_t{1} << space_bits) / region_bytes_);
}

uint64_t StripeLayout::region(uint64_t round) const {
  const uint64_t epoch = round / kRoundsPerEpoch;
  const uint64_t which = mix(seed_ ^ round) % kRegionsPerEpoch;
  return mix(seed_ + epoch * kRegionsPerEpoch + which) % regions_ * region_bytes_;
}

ThreadOps::ThreadOps(const ref::DomainConfig& cfg, const StripeLayout& layout, unsigned thread,
                     uint64_t seed)
    : cfg_(cfg), layout_(layout), thread_(thread), rng_(seed) {
  for (uint64_t p : page_sizes(cfg.pgsize_bitmap))
    if (p <= layout.stripe()) pgsizes_.push_back(p);
}

Op ThreadOps::next(const ref::RefPgtable& ref, uint64_t round) {
  const uint64_t region = layout_.region(round);
  const bool prefer_unmap = !ref.leaves().empty() && chance(40);
  if (prefer_unmap) {
    if (auto op = unmap(ref)) return *op;
  }
  if (auto op = map(ref, region)) return *op;
  if (auto op = unmap(ref)) return *op;
  return IovaToPhysOp{layout_.stripe_base(region, 0, thread_)};
}

std::optional<Op> ThreadOps::map(const ref::RefPgtable& ref, uint64_t region) {
  static constexpr int kProts[] = {IOMMU_READ | IOMMU_WRITE, IOMMU_READ,
                                   IOMMU_READ | IOMMU_WRITE | IOMMU_NOEXEC,
                                   IOMMU_READ | IOMMU_CACHE};
  for (int attempt = 0; attempt < 4; attempt++) {
    const uint64_t base =
        layout_.stripe_base(region, below(StripeLayout::kStridesPerRegion), thread_);
    const uint64_t pgsize = pgsizes_[below(pgsizes_.size())];
    const uint64_t slots = layout_.stripe() / pgsize;
    const uint64_t first = below(slots);
    const uint64_t count = 1 + below(std::min(kMaxPgcount, slots - first));
    const uint64_t iova = base + first * pgsize;
    if (ref.leaves().intersects(iova, iova + (count * pgsize - 1))) continue;
    const unsigned paddr_bits = std::min(cfg_.oas, 40u);
    const uint64_t paddr = rng_() % (uint64_t{1} << paddr_bits) & ~(pgsize - 1);
    if (paddr + count * pgsize - 1 >= (uint64_t{1} << paddr_bits)) continue;
    return MapPagesOp{iova, paddr, pgsize, count, kProts[below(std::size(kProts))]};
  }
  return std::nullopt;
}

std::optional<Op> ThreadOps::unmap(const ref::RefPgtable& ref) {
  const auto& runs = ref.leaves().runs();
  if (runs.empty()) return std::nullopt;
  const ref::LeafRun& run = std::next(runs.begin(), static_cast<long>(below(runs.size())))->second;
  if (cfg_.partial_unmap == ref::PartialUnmap::kSplit && chance(15)) {
    if (auto op = cut(run)) return op;
  }
  const uint64_t first = below(run.count);
  const uint64_t count = 1 + below(run.count - first);
  return UnmapPagesOp{run.iova + first * run.pgsize, run.pgsize, count, std::nullopt};
}

// Part of one block: the driver splits it (a SPLIT driver promises to).
std::optional<Op> ThreadOps::cut(const ref::LeafRun& run) {
  if (run.pgsize == pgsizes_.front()) return std::nullopt;
  std::vector<uint64_t> smaller;
  for (uint64_t p : pgsizes_)
    if (p < run.pgsize) smaller.push_back(p);
  const uint64_t pgsize = smaller[below(smaller.size())];
  const uint64_t leaf = run.iova + below(run.count) * run.pgsize;
  const uint64_t slots = run.pgsize / pgsize;
  const uint64_t first = below(slots);
  const uint64_t count = 1 + below(std::min(kMaxPgcount, slots - first));
  return UnmapPagesOp{leaf + first * pgsize, pgsize, count, std::nullopt};
}

}  // namespace iommu::conform
