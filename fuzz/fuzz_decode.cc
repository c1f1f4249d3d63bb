// libFuzzer target for the engine of `iommucheck decode`: any format, limits, base, roots and
// memory image. hw/dump and the walker must never crash, hang or read outside their buffers,
// and they must agree: a walk that reaches a leaf finds it in the dump, a mapping the dump
// lists is what a walk through it reaches.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "fuzz/decode_input.h"
#include "hw/dump.h"
#include "hw/walker.h"

namespace {

using namespace iommu;

[[noreturn]] void disagree(uint64_t iova, const char* what) {
  std::fprintf(stderr, "fuzz_decode: dump and walker disagree at iova %#llx: %s\n",
               static_cast<unsigned long long>(iova), what);
  std::abort();
}

// Mappings come in iova order and, since decode lists each table once, do not overlap.
const hw::Mapping* covering(const hw::TableDump& dump, uint64_t iova) {
  auto after = std::upper_bound(dump.mappings.begin(), dump.mappings.end(), iova,
                                [](uint64_t x, const hw::Mapping& m) { return x < m.iova; });
  if (after == dump.mappings.begin()) return nullptr;
  const hw::Mapping& m = *std::prev(after);
  return iova - m.iova < m.size ? &m : nullptr;
}

// Table descriptors the dump reports instead of following (shared tables, loops, tables partly
// outside the image): a walk through one reaches what the dump lists elsewhere or not at all.
bool through_unfollowed(const hw::WalkResult& r, const hw::TableDump& dump) {
  for (const hw::TableStep& step : r.path.used())
    for (const hw::Malformed& m : dump.malformed)
      if (m.desc_paddr == step.desc_paddr) return true;
  return false;
}

void check_iova(const hw::TableMemory& mem, const hw::Format& fmt,
                const std::vector<uint64_t>& roots, const hw::TableDump& dump, uint64_t iova) {
  hw::WalkResult r = hw::walk(mem, fmt, roots, iova);
  if (through_unfollowed(r, dump)) return;
  const hw::Mapping* m = covering(dump, iova);
  const hw::Leaf* leaf = r.leaf();
  if (!leaf) {
    if (m) disagree(iova, "the walk faults where the dump lists a mapping");
    return;
  }
  if (!m) disagree(iova, "the walk reaches a leaf the dump does not list");
  if (leaf->paddr_base + (iova - leaf->iova_base) != m->paddr + (iova - m->iova))
    disagree(iova, "different output addresses");
  if (leaf->size != m->leaf_size || leaf->level != m->level)
    disagree(iova, "different leaf size or level");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::DecodeInput in = fuzz::read_decode_input(data, size);
  std::optional<hw::Format> fmt;
  try {
    fmt = hw::make_format({.name = in.format, .ias = in.ias, .oas = in.oas, .granule = in.granule});
  } catch (const std::invalid_argument&) {
    return -1;  // not a configuration decode accepts: keep it out of the corpus
  }
  hw::TableDump dump;
  try {
    dump = hw::dump_image(*fmt, in.image, in.base, in.roots);
  } catch (const hw::ImageError&) {
    return 0;
  }
  for (const auto& m : dump.mappings) (void)hw::format_mapping(m);
  for (const auto& m : dump.malformed) (void)hw::format_malformed(m);

  hw::TableMemory mem;
  mem.view_image(in.base, in.image);
  for (uint64_t iova : in.iovas) check_iova(mem, *fmt, in.roots, dump, iova);
  size_t checked = 0;
  for (const auto& m : dump.mappings) {
    if (++checked > 16) break;
    check_iova(mem, *fmt, in.roots, dump, m.iova);
    check_iova(mem, *fmt, in.roots, dump, m.iova + m.size - 1);
  }
  return 0;
}
