#include "ref/caller_contract.h"

#include <fmt/core.h>

#include "base/bits.h"
#include "base/prot.h"
#include "base/size_name.h"

namespace iommu::ref {
namespace {

Verdict check_range(const DomainConfig& cfg, uint64_t iova, uint64_t size) {
  if (size == 0) return std::string("size is 0");
  if (!is_aligned(iova | size, cfg.min_pgsize()))
    return fmt::format("iova {:#x} or size {:#x} is not a multiple of the minimum page {}", iova,
                       size, size_name(cfg.min_pgsize()));
  if (!fits_bits(iova, size, cfg.ias))
    return fmt::format("[{:#x}, +{:#x}) does not fit ias={}", iova, size, cfg.ias);
  return std::nullopt;
}

// A driver-level call names one of the driver's page sizes, aligned, and a count whose bytes
// fit in 64 bits.
Verdict check_pages(const DomainConfig& cfg, uint64_t aligned, uint64_t pgsize, uint64_t pgcount) {
  if (!is_pow2(pgsize) || (pgsize & cfg.pgsize_bitmap) == 0)
    return fmt::format("pgsize {:#x} is not one of the driver's page sizes", pgsize);
  if (!is_aligned(aligned, pgsize))
    return fmt::format("iova or paddr is not aligned to pgsize {}", size_name(pgsize));
  if (pgcount == 0 || pgcount > ~uint64_t{0} / pgsize)
    return fmt::format("pgcount {} is 0 or its bytes overflow", pgcount);
  return std::nullopt;
}

}  // namespace

Verdict contract_map(const RefDomain& domain, uint64_t iova, uint64_t paddr, uint64_t size,
                     int prot) {
  const DomainConfig& cfg = domain.config();
  if (auto v = check_range(cfg, iova, size)) return v;
  if (!is_aligned(paddr, cfg.min_pgsize()))
    return fmt::format("paddr {:#x} is not a multiple of the minimum page", paddr);
  if (!fits_bits(paddr, size, cfg.oas))
    return fmt::format("paddr [{:#x}, +{:#x}) does not fit oas={}", paddr, size, cfg.oas);
  if (!(prot & (IOMMU_READ | IOMMU_WRITE)) || (prot & ~kProtMask))
    return fmt::format("prot {} grants neither read nor write or has unknown bits",
                       prot_to_string(prot));
  const uint64_t last = iova + (size - 1);
  if (domain.pgtable().leaves().intersects(iova, last))
    return fmt::format("[{:#x}, {:#x}] overlaps a live mapping", iova, last);
  if (domain.stale().intersects(iova, last))
    return fmt::format("[{:#x}, {:#x}] still has unflushed stale translations", iova, last);
  return std::nullopt;
}

Verdict contract_unmap(const RefDomain& domain, uint64_t iova, uint64_t size) {
  if (auto v = check_range(domain.config(), iova, size)) return v;
  const LeafMap& leaves = domain.pgtable().leaves();
  const uint64_t last = iova + (size - 1);
  const PartialUnmap policy = domain.config().partial_unmap;
  const bool cut_start = policy == PartialUnmap::kSplit;
  const bool cut_end = policy != PartialUnmap::kRefuse;
  if (const auto leaf = leaves.leaf_at(iova); leaf && leaf->iova != iova && !cut_start)
    return fmt::format("{:#x} is inside a {} leaf", iova, size_name(leaf->pgsize));
  if (const auto leaf = leaves.leaf_at(last); leaf && leaf->last() != last && !cut_end)
    return fmt::format("{:#x} is inside a {} leaf", last + 1, size_name(leaf->pgsize));
  uint64_t next = iova;
  for (const LeafRun& run : leaves.runs_in(iova, last)) {
    if (run.iova > next) break;
    if (run.last() >= last) return std::nullopt;
    next = run.last() + 1;
  }
  return fmt::format("{:#x} is not mapped", next);
}

Verdict contract_map_pages(const RefDomain& domain, const MapPagesCall& call) {
  if (auto v = check_pages(domain.config(), call.iova | call.paddr, call.pgsize, call.pgcount))
    return v;
  return contract_map(domain, call.iova, call.paddr, call.pgsize * call.pgcount, call.prot);
}

Verdict contract_unmap_pages(const RefDomain& domain, const UnmapPagesCall& call) {
  if (auto v = check_pages(domain.config(), call.iova, call.pgsize, call.pgcount)) return v;
  return contract_unmap(domain, call.iova, call.pgsize * call.pgcount);
}

Verdict contract_map_sg(const RefDomain& domain, uint64_t iova,
                        std::span<const Segment> segments, int prot) {
  if (segments.empty()) return std::string("no segments");
  uint64_t total = 0;
  for (const Segment& s : segments) {
    if (s.length == 0) return std::string("a segment has length 0");
    if (!is_aligned(s.paddr | s.length, domain.config().min_pgsize()))
      return fmt::format("segment paddr {:#x} length {:#x} is not page aligned", s.paddr,
                         s.length);
    if (auto v = contract_map(domain, iova + total, s.paddr, s.length, prot)) return v;
    total += s.length;
  }
  if (!fits_bits(iova, total, domain.config().ias))
    return fmt::format("[{:#x}, +{:#x}) does not fit ias={}", iova, total, domain.config().ias);
  return std::nullopt;
}

}  // namespace iommu::ref
