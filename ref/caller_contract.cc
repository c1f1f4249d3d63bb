#include "ref/caller_contract.h"

#include <fmt/core.h>

#include "ref/bits.h"
#include "ref/prot.h"

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
  if (const auto leaf = leaves.leaf_at(iova); leaf && leaf->iova != iova)
    return fmt::format("{:#x} is inside a {} leaf", iova, size_name(leaf->pgsize));
  if (const auto leaf = leaves.leaf_at(last); leaf && leaf->last() != last)
    return fmt::format("{:#x} is inside a {} leaf", last + 1, size_name(leaf->pgsize));
  uint64_t next = iova;
  for (const LeafRun& run : leaves.runs_in(iova, last)) {
    if (run.iova > next) break;
    if (run.last() >= last) return std::nullopt;
    next = run.last() + 1;
  }
  return fmt::format("{:#x} is not mapped", next);
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
