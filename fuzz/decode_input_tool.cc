// decode_input seeds DIR: writes the fuzz_decode seed corpus, real tables of every format built
// with the formats' own codecs. decode_input explain INPUT IMAGE: turns a fuzz_decode input
// (e.g. a crash) into an image file and the `iommucheck decode` command that reads it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/bits.h"
#include "base/prot.h"
#include "fuzz/decode_input.h"
#include "hw/format.h"

namespace iommu::fuzz {
namespace {

constexpr uint64_t kBase = 0x8000'0000;
constexpr size_t kSmallImage = 40 * 1024;

// Table memory as a growing image at kBase, written with a format's codec.
class ImageBuilder {
 public:
  explicit ImageBuilder(const hw::Format& fmt) : fmt_(fmt) {
    for (unsigned t = 0; t < fmt.geo().n_ttbrs; t++) roots_.push_back(alloc(fmt.geo().pgd_bytes));
  }

  void map(uint64_t iova, uint64_t paddr, uint64_t pgsize, int prot) {
    const hw::Geometry& g = fmt_.geo();
    unsigned leaf_level = fmt_.leaf_level(pgsize);
    uint64_t table = roots_[g.ttbr_index(iova)];
    for (unsigned level = g.start_level; level < leaf_level; level++) {
      uint64_t desc_paddr = table + g.index(iova, level) * g.desc_bytes;
      hw::Decoded d = fmt_.decode(get(desc_paddr), level);
      if (d.kind != hw::DescKind::kTable) {
        d.paddr = alloc(g.at(level + 1).table_bytes);
        put(desc_paddr, fmt_.make_table(d.paddr, level));
      }
      table = d.paddr;
    }
    uint64_t first = table + g.index(iova, leaf_level) * g.desc_bytes;
    for (unsigned r = 0; r < fmt_.replicas(pgsize); r++)
      put(first + r * g.desc_bytes, fmt_.make_leaf(paddr, pgsize, prot));
  }

  // A descriptor no format accepts at the root level (all ones).
  void corrupt_root(unsigned index) { put(roots_[0] + index * fmt_.geo().desc_bytes, ~0ull); }

  const std::vector<uint64_t>& roots() const { return roots_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  uint64_t alloc(uint64_t size) {
    uint64_t offset = (bytes_.size() + size - 1) & ~(size - 1);
    bytes_.resize(offset + size);
    return kBase + offset;
  }
  uint64_t get(uint64_t paddr) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < fmt_.geo().desc_bytes; i++)
      v |= uint64_t{bytes_[paddr - kBase + i]} << (8 * i);
    return v;
  }
  void put(uint64_t paddr, uint64_t v) {
    for (unsigned i = 0; i < fmt_.geo().desc_bytes; i++)
      bytes_[paddr - kBase + i] = static_cast<uint8_t>(v >> (8 * i));
  }

  const hw::Format& fmt_;
  std::vector<uint64_t> roots_;
  std::vector<uint8_t> bytes_;
};

// One leaf of every page size (and one per extra TTBR), with varied prot; the first few are
// walked (amd-v1 has dozens of sizes, an input at most kMaxDecodeIovas iovas).
DecodeInput seed_for(const std::string& name, uint64_t granule, bool corrupt) {
  hw::Format fmt = hw::make_format({.name = name, .granule = granule});
  const hw::Geometry& g = fmt.geo();
  ImageBuilder b(fmt);
  DecodeInput in{.format = name, .granule = granule, .base = kBase};
  const int prots[] = {IOMMU_READ | IOMMU_WRITE, IOMMU_READ, IOMMU_WRITE | IOMMU_NOEXEC,
                       IOMMU_READ | IOMMU_CACHE | IOMMU_PRIV};
  unsigned k = 0;
  for (uint64_t rest = g.pgsize_bitmap; rest != 0; rest &= rest - 1, k++) {
    uint64_t pgsize = rest & (~rest + 1);
    uint64_t iova = 2 * pgsize, paddr = 3 * pgsize;
    if (!fits_bits(iova, pgsize, g.ias) || !fits_bits(paddr, pgsize, g.oas)) continue;
    b.map(iova, paddr, pgsize, prots[k % 4]);
    if (in.iovas.size() + 1 < kMaxDecodeIovas) in.iovas.push_back(iova + pgsize / 2);
  }
  for (unsigned t = 1; t < g.n_ttbrs; t++) {
    uint64_t iova = (uint64_t{t} << g.ttbr_shift) + g.granule;
    b.map(iova, 5 * g.granule, g.granule, IOMMU_READ);
    if (in.iovas.size() + 1 < kMaxDecodeIovas) in.iovas.push_back(iova);
  }
  if (corrupt) b.corrupt_root(1);
  in.iovas.push_back(g.granule);  // a hole
  in.roots = b.roots();
  in.image = b.bytes();
  return in;
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

int seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (std::string_view name : hw::format_names()) {
    std::vector<uint64_t> granules = {0};
    if (name == "apple-dart") granules.push_back(4096);  // its default is 16K
    for (uint64_t granule : granules)
      for (bool corrupt : {false, true}) {
        DecodeInput in = seed_for(std::string(name), granule, corrupt);
        if (corrupt && in.image.size() > kSmallImage) continue;  // keep the corpus small
        std::vector<uint8_t> bytes = write_decode_input(in);
        DecodeInput back = read_decode_input(bytes.data(), bytes.size());
        if (back.roots != in.roots || back.image != in.image || back.format != in.format)
          throw std::logic_error("write_decode_input does not invert read_decode_input");
        write_file(dir / fmt::format("{}{}{}", name, granule ? fmt::format("-{}k", granule >> 10) : "",
                                     corrupt ? "-corrupt" : ""),
                   bytes);
      }
  }
  return 0;
}

int explain(const std::string& input, const std::string& image_out) {
  std::ifstream f(input, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "decode_input: cannot open %s\n", input.c_str());
    return 2;
  }
  std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(f), {});
  DecodeInput in = read_decode_input(bytes.data(), bytes.size());
  write_file(image_out, in.image);
  std::string cmd = fmt::format("iommucheck decode --format {} --image {} --base {:#x}", in.format,
                                image_out, in.base);
  for (uint64_t r : in.roots) cmd += fmt::format(" --root {:#x}", r);
  if (in.ias) cmd += fmt::format(" --ias {}", in.ias);
  if (in.oas) cmd += fmt::format(" --oas {}", in.oas);
  fmt::print("{}\n", cmd);
  if (in.granule) fmt::print("# granule {} (decode uses the format's default)\n", in.granule);
  fmt::print("# iovas the target walks: {:#x}\n", fmt::join(in.iovas, " "));
  return 0;
}

}  // namespace
}  // namespace iommu::fuzz

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "seeds" && argc == 3) return iommu::fuzz::seeds(argv[2]);
  if (cmd == "explain" && argc == 4) return iommu::fuzz::explain(argv[2], argv[3]);
  std::fprintf(stderr, "usage: decode_input seeds DIR | decode_input explain INPUT IMAGE_OUT\n");
  return 2;
}
