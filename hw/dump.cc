#include "hw/dump.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "base/bits.h"
#include "base/prot.h"
#include "base/size_name.h"
#include "hw/walker.h"

namespace iommu::hw {
namespace {

class Dumper {
 public:
  Dumper(const TableMemory& mem, const Format& fmt, std::string_view unallocated)
      : mem_(mem), fmt_(fmt), unallocated_(unallocated) {}

  // `limit`: what the table descriptors above leave the leaves of this table to grant.
  void table(uint64_t table_paddr, unsigned level, uint64_t iova_base, const Perms& limit) {
    const LevelGeometry& lg = fmt_.geo().at(level);
    uint64_t entries = uint64_t{1} << lg.index_bits;
    path_.push_back(table_paddr);
    std::optional<uint64_t> bad_group_end;  // last entry of a reported inconsistent group
    for (uint64_t i = 0; i < entries; i++) {
      uint64_t iova = iova_base + (i << lg.shift);
      // A DART level-1 table has more entries than a narrow ias reaches; walks fault there.
      if (!fits_bits(iova, 1, fmt_.geo().ias)) break;
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
        if (*e.fault == FaultReason::kBadTable) break;
        i |= e.decoded.replicas - 1;
        continue;
      }
      // A table that skips levels (AMD) translates the iovas whose skipped bits are zero: its
      // entries start at this entry's iova as well.
      if (e.decoded.kind == DescKind::kTable && enter(e, level, iova))
        table(e.decoded.paddr, level + 1 + e.decoded.skip, iova,
              restrict_perms(limit, e.decoded.limit));
      if (e.decoded.kind != DescKind::kLeaf) continue;
      // Replicas translate the same leaf: record it once, at the group's first entry.
      i |= e.decoded.replicas - 1;
      leaf(e.decoded, level, iova & ~(e.decoded.size - 1), limit);
    }
    path_.pop_back();
  }

  TableDump take() { return std::move(out_); }

  void add_root(uint64_t paddr, size_t ttbr) {
    reached_.emplace(paddr, fmt::format("as the root of TTBR {}", ttbr));
  }

 private:
  // Whether to list the table `e` points to: each table once (a table listed twice could take
  // 512^4 reads of a 4K image that points to itself), and only one wholly in memory.
  bool enter(const Entry& e, unsigned level, uint64_t iova) {
    const uint64_t t = e.decoded.paddr;
    if (std::find(path_.begin(), path_.end(), t) != path_.end())
      return refuse(e, level, iova, kTableLoop,
                    fmt::format("points back to the table at {:#x} on its own walk", t));
    const auto [first, fresh] = reached_.emplace(
        t, fmt::format("through the descriptor at {:#x} (level {})", e.desc_paddr, level));
    if (!fresh)
      return refuse(e, level, iova, kSharedTable,
                    fmt::format("points to the table at {:#x}, listed already {}", t,
                                first->second));
    const uint64_t last = t + fmt_.geo().at(level + 1 + e.decoded.skip).table_bytes - 1;
    for (uint64_t p : {t, last}) {
      const PageState s = mem_.state(p);
      if (s == PageState::kAllocated) continue;
      return refuse(e, level, iova, fault_reason_name(FaultReason::kBadTable),
                    fmt::format("points to a table at {:#x} whose byte {:#x} is {}", t, p,
                                s == PageState::kFreed ? "in freed memory" : unallocated_));
    }
    return true;
  }

  bool refuse(const Entry& e, unsigned level, uint64_t iova, std::string_view reason,
              std::string why) {
    out_.malformed.push_back({e.desc_paddr, level, fmt_.level_name(level), iova,
                              std::string(reason), std::move(why)});
    return false;
  }

  void report(const Entry& e, unsigned level, uint64_t iova) {
    out_.malformed.push_back({e.desc_paddr, level, fmt_.level_name(level), iova,
                              std::string(fault_reason_name(*e.fault)), std::string(e.why)});
  }

  void leaf(const Decoded& d, unsigned level, uint64_t iova, const Perms& limit) {
    Mapping m{iova, d.paddr, d.size, restrict_prot(d.prot, limit), d.size, level,
              fmt_.level_name(level)};
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
  std::string_view unallocated_;  // what memory that is not allocated is, to the reader
  TableDump out_;
  std::unordered_map<uint64_t, std::string> reached_;  // every table listed, and how
  std::vector<uint64_t> path_;                         // the tables of the current walk
};

TableDump dump(const TableMemory& mem, const Format& fmt, std::span<const uint64_t> ttbrs,
               std::string_view unallocated) {
  Dumper d(mem, fmt, unallocated);
  const Geometry& g = fmt.geo();
  for (size_t t = 0; t < ttbrs.size() && t < g.n_ttbrs; t++) d.add_root(ttbrs[t], t);
  for (size_t t = 0; t < ttbrs.size() && t < g.n_ttbrs; t++)
    d.table(ttbrs[t], g.start_level, g.n_ttbrs > 1 ? uint64_t{t} << g.ttbr_shift : 0, kNoLimit);
  return d.take();
}

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
  return dump(mem, fmt, ttbrs, "in memory never allocated");
}

ImageFile::ImageFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ImageError(fmt::format("cannot open image {}: {}", path, std::strerror(errno)));
  struct stat st {};
  std::string problem;
  if (fstat(fd, &st) != 0)
    problem = fmt::format("cannot read image {}: {}", path, std::strerror(errno));
  else if (S_ISDIR(st.st_mode))
    problem = fmt::format("image {} is a directory, not a file", path);
  else if (!S_ISREG(st.st_mode))
    problem = fmt::format("image {} is not a regular file (a device or a pipe has no fixed size "
                          "to decode); copy the memory to a file first",
                          path);
  else if (st.st_size == 0)
    problem = fmt::format("image {} is empty", path);
  if (problem.empty()) {
    size_ = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      problem = fmt::format("cannot map image {}: {}", path, std::strerror(errno));
    else
      data_ = static_cast<const uint8_t*>(p);
  }
  close(fd);
  if (!problem.empty()) throw ImageError(problem);
}

ImageFile::~ImageFile() { munmap(const_cast<uint8_t*>(data_), size_); }

TableDump dump_image(const Format& fmt, std::span<const uint8_t> image, uint64_t base,
                     std::span<const uint64_t> ttbrs) {
  if (image.empty()) throw ImageError("the image is empty");
  uint64_t end = base + image.size();
  if (end < base) throw ImageError(fmt::format("image at base {:#x} wraps around 2^64", base));
  if (ttbrs.size() > fmt.geo().n_ttbrs)
    throw ImageError(fmt::format("{} roots given but {} with this ias has {} table base(s)",
                                 ttbrs.size(), fmt.name(), fmt.geo().n_ttbrs));
  for (uint64_t root : ttbrs) check_root(fmt, root, base, end);
  TableMemory mem;
  mem.view_image(base, image);
  return dump(mem, fmt, ttbrs, "outside the image");
}

namespace {

std::string spec_name(std::string_view name) {
  return name.empty() ? std::string() : fmt::format(" ({})", name);
}

}  // namespace

std::string format_mapping(const Mapping& m) {
  return fmt::format("{:#x}-{:#x} -> {:#x} {} {} L{}{}", m.iova, m.iova + m.size - 1, m.paddr,
                     prot_to_string(m.prot), size_name(m.leaf_size), m.level,
                     spec_name(m.level_name));
}

std::string format_malformed(const Malformed& m) {
  return fmt::format("malformed: desc {:#x} level {}{} iova {:#x}: {} ({})", m.desc_paddr,
                     m.level, spec_name(m.level_name), m.iova, m.reason, m.why);
}

}  // namespace iommu::hw
