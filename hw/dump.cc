#include "hw/dump.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <unordered_set>

#include "hw/walker.h"
#include "ref/bits.h"
#include "ref/config.h"
#include "ref/prot.h"

namespace iommu::hw {
namespace {

class Dumper {
 public:
  Dumper(const TableMemory& mem, const Format& fmt) : mem_(mem), fmt_(fmt) {}

  void table(uint64_t table_paddr, unsigned level, uint64_t iova_base) {
    const LevelGeometry& lg = fmt_.geo().at(level);
    uint64_t entries = uint64_t{1} << lg.index_bits;
    std::optional<uint64_t> bad_group_end;  // last entry of a reported inconsistent group
    for (uint64_t i = 0; i < entries; i++) {
      uint64_t iova = iova_base + (i << lg.shift);
      // A DART level-1 table has more entries than a narrow ias reaches; walks fault there.
      if (!fits_bits(iova, 1, fmt_.geo().ias)) return;
      Entry e = read_entry(mem_, fmt_, table_paddr, level, i);
      if (e.fault) {
        // Replicas that differ: one report per group, while the group's entries that are not
        // large leaves (a small page among them) are walked on their own.
        if (*e.fault == FaultReason::kInconsistent) {
          if (!bad_group_end || i > *bad_group_end) {
            report(e, level, iova);
            bad_group_end = i | (e.decoded.replicas - 1);
          }
          continue;
        }
        report(e, level, iova);
        // An unreadable table would report every entry; a faulting large leaf every replica.
        if (*e.fault == FaultReason::kBadTable) return;
        i |= e.decoded.replicas - 1;
        continue;
      }
      if (e.decoded.kind == DescKind::kTable) {
        enter(e, level);
        table(e.decoded.paddr, level + 1, iova);
      }
      if (e.decoded.kind != DescKind::kLeaf) continue;
      // Replicas translate the same leaf: record it once, at the group's first entry.
      i |= e.decoded.replicas - 1;
      leaf(e.decoded, level, iova & ~(e.decoded.size - 1));
    }
  }

  TableDump take() { return std::move(out_); }

  void add_root(uint64_t paddr) { tables_.insert(paddr); }

 private:
  // Listing a table twice could take 512^4 reads of a 4K image that points to itself.
  void enter(const Entry& e, unsigned level) {
    if (!tables_.insert(e.decoded.paddr).second)
      throw ImageError(fmt::format("the table at {:#x} is reached a second time, through the "
                                   "descriptor at {:#x} (level {}): decode lists only tables "
                                   "that form a tree, not shared or looping ones",
                                   e.decoded.paddr, e.desc_paddr, level));
  }

  void report(const Entry& e, unsigned level, uint64_t iova) {
    out_.malformed.push_back({e.desc_paddr, level, iova, *e.fault, e.why});
  }

  void leaf(const Decoded& d, unsigned level, uint64_t iova) {
    Mapping m{iova, d.paddr, d.size, d.prot, d.size, level};
    if (!out_.mappings.empty()) {
      Mapping& last = out_.mappings.back();
      if (last.iova + last.size == m.iova && last.paddr + last.size == m.paddr &&
          last.prot == m.prot && last.leaf_size == m.leaf_size && last.level == m.level) {
        last.size += m.size;
        return;
      }
    }
    out_.mappings.push_back(m);
  }

  const TableMemory& mem_;
  const Format& fmt_;
  TableDump out_;
  std::unordered_set<uint64_t> tables_;  // every table listed so far, roots included
};

void check_root(const Format& fmt, uint64_t root, uint64_t base, uint64_t end) {
  uint64_t pgd = fmt.geo().pgd_bytes;
  if (!is_aligned(root, pgd))
    throw ImageError(fmt::format("root {:#x} is not aligned to the {}-byte top-level table of {}",
                                 root, pgd, fmt.name()));
  if (root < base || root >= end)
    throw ImageError(fmt::format("root {:#x} is outside the image, which covers [{:#x}, {:#x})",
                                 root, base, end));
  if (end - root < pgd)
    throw ImageError(fmt::format(
        "truncated: the {}-byte table at root {:#x} runs past its end at {:#x}", pgd,
        root, end));
}

}  // namespace

TableDump dump_tables(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs) {
  Dumper d(mem, fmt);
  const Geometry& g = fmt.geo();
  for (size_t t = 0; t < ttbrs.size() && t < g.n_ttbrs; t++) d.add_root(ttbrs[t]);
  for (size_t t = 0; t < ttbrs.size() && t < g.n_ttbrs; t++)
    d.table(ttbrs[t], g.start_level, g.n_ttbrs > 1 ? uint64_t{t} << g.ttbr_shift : 0);
  return d.take();
}

std::vector<uint8_t> read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImageError(fmt::format("cannot open image {}: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) throw ImageError(fmt::format("cannot read image {}", path));
  if (bytes.empty()) throw ImageError(fmt::format("image {} is empty", path));
  return bytes;
}

TableDump dump_image(const Format& fmt, std::span<const uint8_t> image, uint64_t base,
                     std::span<const uint64_t> ttbrs) {
  uint64_t end = base + image.size();
  if (end < base) throw ImageError(fmt::format("image at base {:#x} wraps around 2^64", base));
  if (ttbrs.size() > fmt.geo().n_ttbrs)
    throw ImageError(fmt::format("{} roots given but {} with this ias has {} table base(s)",
                                 ttbrs.size(), fmt.name(), fmt.geo().n_ttbrs));
  for (uint64_t root : ttbrs) check_root(fmt, root, base, end);
  TableMemory mem;
  mem.load(base, image);
  return dump_tables(mem, fmt, ttbrs);
}

std::string format_mapping(const Mapping& m) {
  return fmt::format("{:#x}-{:#x} -> {:#x} {} {} L{}", m.iova, m.iova + m.size - 1, m.paddr,
                     prot_to_string(m.prot), ref::size_name(m.leaf_size), m.level);
}

std::string format_malformed(const Malformed& m) {
  return fmt::format("malformed: desc {:#x} level {} iova {:#x}: {} ({})", m.desc_paddr, m.level,
                     m.iova, fault_reason_name(m.reason), m.why);
}

}  // namespace iommu::hw
