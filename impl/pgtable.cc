// Construction, teardown, descriptor access and iova_to_phys.
#include <fmt/format.h>

#include <mutex>
#include <stdexcept>

#include "base/bits.h"
#include "impl/mutant.h"
#include "impl/pgtable_parts.h"

namespace iommu::impl {

LeafEncoder::LeafEncoder(const hw::Format& fmt, uint64_t paddr, uint64_t pgsize, uint64_t count,
                         int prot)
    : fmt_(&fmt), paddr_(paddr), pgsize_(pgsize), prot_(prot) {
  if (count == 0) return;
  first_ = fmt.make_leaf(paddr, pgsize, prot);
  if (count == 1) {
    linear_ = true;
    return;
  }
  step_ = fmt.make_leaf(paddr + pgsize, pgsize, prot) - first_;
  const uint64_t last = count - 1;
  linear_ = fmt.make_leaf(paddr + last * pgsize, pgsize, prot) == first_ + last * step_;
}

std::span<const std::string_view> pgtable_formats() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (std::string_view name : hw::format_names()) {
      const hw::Family family = hw::make_format({std::string(name)}).family();
      if (family == hw::Family::kLpae || family == hw::Family::kV7s ||
          family == hw::Family::kDart)
        out.push_back(name);
    }
    return out;
  }();
  return names;
}

Pgtable::Pgtable(PgtableConfig config, hw::TableMemory& mem, FlushOps& flush)
    : cfg_(std::move(config)), fmt_(hw::make_format(cfg_.format)), mem_(mem), flush_(flush) {
  const hw::Geometry& g = fmt_.geo();
  for (unsigned i = 0; i < g.n_ttbrs; i++) {
    auto root = alloc_table(g.start_level);
    if (!root) {
      for (uint64_t r : roots_) mem_.free(r);
      throw std::runtime_error(fmt::format(
          "{}: no table memory for root table {} of {} ({:#x} bytes): widen the TableMemory "
          "window",
          fmt_.name(), i + 1, g.n_ttbrs, g.pgd_bytes));
    }
    roots_.push_back(*root);
  }
}

Pgtable::~Pgtable() {
  for (uint64_t r : roots_) free_subtree(r, fmt_.geo().start_level);
}

ref::DomainConfig Pgtable::domain_config() const {
  const hw::Geometry& g = fmt_.geo();
  ref::DomainConfig d;
  d.pgsize_bitmap = g.pgsize_bitmap;
  d.ias = g.ias;
  d.oas = g.oas;
  d.partial_unmap = cfg_.partial_unmap;
  return d;
}

bool Pgtable::exchange(uint64_t ptep, uint64_t& expected, uint64_t desired) {
  if (fmt_.geo().desc_bytes == 8) return mem_.compare_exchange64(ptep, expected, desired);
  uint32_t e = static_cast<uint32_t>(expected);
  const bool ok = mem_.compare_exchange32(ptep, e, static_cast<uint32_t>(desired));
  expected = e;
  return ok;
}

// The engine writes empty entries as 0, so the common empty case skips the codec.
hw::Decoded Pgtable::decode(uint64_t desc, unsigned level) const {
  if (desc == 0) return {};
  hw::Decoded d = fmt_.decode(desc, level);
  if (d.kind == hw::DescKind::kReserved)
    throw std::logic_error(
        fmt::format("{}: engine found a reserved descriptor {:#x} at level {}: {}", fmt_.name(),
                    desc, level, d.why));
  return d;
}

uint64_t Pgtable::entries(unsigned level) const {
  return uint64_t{1} << fmt_.geo().at(level).index_bits;
}

uint64_t Pgtable::table_bytes(unsigned level) const {
  const hw::Geometry& g = fmt_.geo();
  return level == g.start_level ? g.pgd_bytes : g.at(level).table_bytes;
}

// The iova bits above what one table at `level` translates.
unsigned Pgtable::table_shift(unsigned level) const {
  const hw::LevelGeometry& lg = fmt_.geo().at(level);
  return lg.shift + lg.index_bits;
}

uint64_t Pgtable::root_for(uint64_t iova) const { return roots_[fmt_.geo().ttbr_index(iova)]; }

std::optional<uint64_t> Pgtable::alloc_table(unsigned level) {
  return mem_.alloc(table_bytes(level));
}

void Pgtable::count_add(uint64_t table, uint32_t n) {
  if (n) mem_.meta(table).fetch_add(n, std::memory_order_relaxed);
}

// True when the table's last live entry went.
bool Pgtable::count_sub(uint64_t table, uint32_t n) {
  return n && mem_.meta(table).fetch_sub(n, std::memory_order_relaxed) == n;
}

uint64_t Pgtable::next_smaller(uint64_t size) const {
  const uint64_t below = fmt_.geo().pgsize_bitmap & (size - 1);
  if (!below) throw std::logic_error("split of the smallest page size");
  return bit(fls64_idx(below));
}

uint64_t Pgtable::iova_to_phys(uint64_t iova) {
  if (!fits_bits(iova, 1, fmt_.geo().ias)) return 0;
  std::shared_lock lock(lock_);
  Cursor c;
  const Slot s = find(c, iova);
  if (s.d.kind != hw::DescKind::kLeaf) return 0;
  if (bug(Mutant::kIovaToPhysGranuleMask)) return s.d.paddr + (iova & (fmt_.geo().granule - 1));
  return s.d.paddr + (iova - s.leaf_iova(iova));
}

}  // namespace iommu::impl
