// The engine's working state, shared by its pgtable_*.cc files. Internal to impl/.
#pragma once

#include <array>
#include <cstdint>

#include "hw/format.h"
#include "impl/pgtable.h"

namespace iommu::impl {

// How many whole pgsize pages fit from `start` to the top of a `bits`-bit space (as the
// reference counts them, so that -ERANGE cuts agree).
inline uint64_t pages_below(uint64_t start, uint64_t pgsize, unsigned bits) {
  const uint64_t top = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  if (start > top) return 0;
  return (top - start - (pgsize - 1)) / pgsize + 1;
}

// The last byte of `pgcount` pages from iova, clamped to the top of the 64-bit space.
inline uint64_t request_last(uint64_t iova, uint64_t pgsize, uint64_t pgcount) {
  const uint64_t fit = pages_below(iova, pgsize, 64);
  return iova + ((pgcount < fit ? pgcount : fit) * pgsize - 1);
}

// The tables of the current walk, per level, so that a run moving to a sibling table reuses
// the levels above instead of walking from the root. A level is valid for an iova when its
// tag (the iova bits above the table's span) matches.
struct Pgtable::Cursor {
  std::array<uint64_t, hw::kMaxLevels> table{};
  std::array<uint64_t, hw::kMaxLevels> tag{};
  uint8_t valid = 0;  // levels whose table is known
  uint8_t ours = 0;   // levels whose table this call allocated (freed again on -ENOMEM)
};

// Where a walk for one iova ended: an empty entry or a leaf, in `table` at `level`.
struct Pgtable::Slot {
  unsigned level = 0;
  uint64_t table = 0;
  uint64_t ptep = 0;
  uint64_t desc = 0;
  hw::Decoded d;

  uint64_t leaf_iova(uint64_t iova) const { return iova & ~(d.size - 1); }
};

// The leaf descriptors of a run: consecutive pages differ only in their output address, which
// every codec places as a plain bit field (docs/IMPL.md), so page k is first + k * step unless
// the run crosses a point where the field wraps or is repacked (52-bit LPAE): then the last
// page disagrees with that prediction and every page goes through the codec.
class LeafEncoder {
 public:
  LeafEncoder(const hw::Format& fmt, uint64_t paddr, uint64_t pgsize, uint64_t count, int prot);
  uint64_t at(uint64_t k) const {
    return linear_ ? first_ + k * step_ : fmt_->make_leaf(paddr_ + k * pgsize_, pgsize_, prot_);
  }

 private:
  const hw::Format* fmt_;
  uint64_t paddr_, pgsize_;
  int prot_;
  uint64_t first_ = 0, step_ = 0;
  bool linear_ = false;
};

// What a split leaf's pieces keep: its prot, plus the descriptor bits the prot does not
// express (XOR-ed into each new leaf; zero for most leaves).
struct Pgtable::Attrs {
  int prot = 0;
  uint64_t extra = 0;

  uint64_t leaf(const hw::Format& fmt, uint64_t paddr, uint64_t size) const {
    return fmt.make_leaf(paddr, size, prot) ^ extra;
  }
};

struct Pgtable::MapRun {
  uint64_t iova = 0;
  uint64_t pgsize = 0;
  uint64_t count = 0;  // pages to map (already clipped to the ias and oas)
  unsigned level = 0;  // where leaves of pgsize live
  unsigned replicas = 1;
  LeafEncoder leaf;
  uint64_t done = 0;  // pages mapped so far

  uint64_t cur() const { return iova + done * pgsize; }
};

struct Pgtable::UnmapRun {
  uint64_t end = 0;  // last byte of the request, inclusive
  uint64_t pgsize = 0;
  IotlbGather* gather = nullptr;
  uint64_t cur = 0;
  uint64_t bytes = 0;
  bool done = false;
};

// Tables that may have become empty, handled once the shared lock is dropped. `cascade`: an
// unmap emptied it, so it may become the kept table of its level, and when it goes, parents
// that become empty go too; otherwise a failed map's own table, freed at once.
struct Pgtable::Pending {
  struct Item {
    uint64_t iova;
    unsigned level;
    bool cascade;
  };
  std::array<Item, 32> items;  // the first n are set; no need to clear the rest on every call
  unsigned n = 0;

  bool full() const { return n == items.size(); }
  void push(uint64_t iova, unsigned level, bool cascade) { items[n++] = {iova, level, cascade}; }
};

// Descriptor access, inline: the inner loops of map and unmap are made of these.
inline uint64_t Pgtable::load(uint64_t ptep) const {
  if (fmt_.geo().desc_bytes == 4) return mem_.read32(ptep);
  return mem_.read64(ptep);
}

inline void Pgtable::store(uint64_t ptep, uint64_t desc) {
  if (fmt_.geo().desc_bytes == 4)
    mem_.write32(ptep, static_cast<uint32_t>(desc));
  else
    mem_.write64(ptep, desc);
}

inline uint64_t Pgtable::ptep(uint64_t table, unsigned level, uint64_t iova) const {
  const hw::LevelGeometry& lg = fmt_.geo().at(level);
  return table +
         ((iova >> lg.shift) & ((uint64_t{1} << lg.index_bits) - 1)) * fmt_.geo().desc_bytes;
}

}  // namespace iommu::impl
