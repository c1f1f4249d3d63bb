#include "hw/walker.h"

#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {
namespace {

std::optional<uint64_t> read_desc(const TableMemory& mem, const Format& fmt, uint64_t paddr) {
  if (fmt.geo().desc_bytes == 4) return mem.peek32(paddr);
  return mem.peek64(paddr);
}

Entry failed(Entry e, FaultReason reason, std::string_view why) {
  e.fault = reason;
  e.why = why;
  return e;
}

// Replicated leaves (v7s 64K, 16M; AMD NextLevel-7 pages) are only well formed when all their
// entries are identical, but for the bits hardware itself sets in one of them.
bool replicas_agree(const TableMemory& mem, const Format& fmt, uint64_t table_paddr,
                    uint64_t index, const Entry& e) {
  uint64_t first = index & ~uint64_t{e.decoded.replicas - 1};
  for (uint64_t i = first; i < first + e.decoded.replicas; i++) {
    auto desc = read_desc(mem, fmt, table_paddr + i * fmt.geo().desc_bytes);
    if (!desc || ((*desc ^ e.desc) & ~fmt.hw_updated_bits()) != 0) return false;
  }
  return true;
}

Entry check_leaf(const TableMemory& mem, const Format& fmt, uint64_t table_paddr,
                 uint64_t index, Entry e) {
  const Decoded& d = e.decoded;
  if (d.replicas > 1 && !replicas_agree(mem, fmt, table_paddr, index, e))
    return failed(e, FaultReason::kInconsistent, "the replicas of a large leaf differ");
  if (!fits_bits(d.paddr, d.size, fmt.geo().oas))
    return failed(e, FaultReason::kAddressSize, "output address beyond the oas");
  if (!d.af) return failed(e, FaultReason::kPermission, "access flag clear");
  return e;
}

Entry check_table(const Format& fmt, unsigned level, Entry e) {
  const unsigned next = level + 1 + e.decoded.skip;
  if (next > fmt.geo().last_level)
    throw std::logic_error("a table descriptor pointing below the last level");
  if (!fits_bits(e.decoded.paddr, fmt.geo().at(next).table_bytes, fmt.geo().oas))
    return failed(e, FaultReason::kAddressSize, "next-level table beyond the oas");
  return e;
}

Fault fault_at(FaultReason reason, unsigned level, uint64_t desc_paddr) {
  return Fault{.reason = reason, .level = level, .desc_paddr = desc_paddr};
}

// A descriptor that skips levels translates only the iovas whose bits for those levels are
// zero (AMD: the skipped levels' address bits must be zero, or the walk faults).
bool skipped_bits_clear(const Geometry& g, uint64_t iova, unsigned level, unsigned next) {
  return (iova & low_mask(g.at(level).shift) & ~(g.table_span(next) - 1)) == 0;
}

}  // namespace

Entry read_entry(const TableMemory& mem, const Format& fmt, uint64_t table_paddr, unsigned level,
                 uint64_t index) {
  Entry e;
  e.desc_paddr = table_paddr + index * fmt.geo().desc_bytes;
  auto desc = read_desc(mem, fmt, e.desc_paddr);
  if (!desc)
    return failed(e, FaultReason::kBadTable,
                  mem.state(e.desc_paddr) == PageState::kFreed ? "table memory is freed"
                                                               : "table memory never allocated");
  e.desc = *desc;
  e.decoded = fmt.decode(e.desc, level);
  switch (e.decoded.kind) {
    case DescKind::kEmpty: return e;
    case DescKind::kReserved: return failed(e, FaultReason::kReserved, e.decoded.why);
    case DescKind::kTable: return check_table(fmt, level, e);
    case DescKind::kLeaf: return check_leaf(mem, fmt, table_paddr, index, e);
  }
  throw std::logic_error("unhandled descriptor kind");
}

WalkResult walk_from(const TableMemory& mem, const Format& fmt, WalkStart start, uint64_t iova) {
  const Geometry& g = fmt.geo();
  WalkResult r;
  if (!fits_bits(iova, 1, g.ias)) {
    r.outcome = fault_at(FaultReason::kAddressSize, start.level, 0);
    return r;
  }
  uint64_t table = start.table_paddr;
  Perms limit = start.limit;
  for (unsigned level = start.level; level <= g.last_level;) {
    Entry e = read_entry(mem, fmt, table, level, g.index(iova, level));
    if (e.fault) {
      r.outcome = fault_at(*e.fault, level, e.desc_paddr);
      return r;
    }
    const Decoded& d = e.decoded;
    if (d.kind == DescKind::kEmpty) {
      r.outcome = fault_at(FaultReason::kTranslation, level, e.desc_paddr);
      return r;
    }
    if (d.kind == DescKind::kLeaf) {
      r.outcome = Leaf{.iova_base = iova & ~(d.size - 1),
                       .paddr_base = d.paddr,
                       .size = d.size,
                       .level = level,
                       .perms = restrict_perms(d.perms, limit)};
      return r;
    }
    const unsigned next = level + 1 + d.skip;
    if (!skipped_bits_clear(g, iova, level, next)) {
      r.outcome = fault_at(FaultReason::kAddressSize, level, e.desc_paddr);
      return r;
    }
    limit = restrict_perms(limit, d.limit);
    const uint64_t prefix = iova & ~(g.table_span(next) - 1) & low_mask(g.ias);
    r.path.steps[r.path.count++] = {level, prefix, e.desc_paddr, d.paddr, next, limit};
    table = d.paddr;
    level = next;
  }
  throw std::logic_error("a table descriptor at the last level decoded as a table");
}

WalkResult walk(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs,
                uint64_t iova) {
  const Geometry& g = fmt.geo();
  unsigned ttbr = g.ttbr_index(iova);
  if (fits_bits(iova, 1, g.ias) && ttbr >= ttbrs.size()) {
    WalkResult r;
    r.outcome = fault_at(FaultReason::kTranslation, g.start_level, 0);
    return r;
  }
  return walk_from(mem, fmt, {g.start_level, ttbr < ttbrs.size() ? ttbrs[ttbr] : 0}, iova);
}

WalkResult walk(const TableMemory& mem, const Format& fmt, uint64_t root, uint64_t iova) {
  return walk(mem, fmt, std::span<const uint64_t>(&root, 1), iova);
}

std::optional<Fault> check_access(const Leaf& leaf, const Access& access) {
  const Perms& p = leaf.perms;
  bool denied = (p.priv_only && !access.priv) || (access.write ? !p.write : !p.read) ||
                (access.exec && !p.exec);
  if (!denied) return std::nullopt;
  return fault_at(FaultReason::kPermission, leaf.level, 0);
}

}  // namespace iommu::hw
