#include "fuzz/decode_input.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <stdexcept>

#include "hw/format.h"

namespace iommu::fuzz {
namespace {

constexpr uint64_t kGranules[] = {0, 4096, 16384};
constexpr unsigned kMaxRoots = 4, kMaxIovas = kMaxDecodeIovas;

enum BaseMode : unsigned { kBaseZero, kBaseTables, kBaseAligned, kBaseRaw, kBaseModes };
constexpr uint64_t kTablesBase = 0x8000'0000;  // where TableMemory puts tables by default

// A root is either raw or an offset into the image, aligned down to the top-level table,
// so that mutations keep finding the tables.
struct RootChoice {
  bool inside = false;
  uint64_t value = 0;
};

}  // namespace

DecodeInput read_decode_input(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  DecodeInput in;
  auto names = hw::format_names();
  in.format = std::string(names[fdp.ConsumeIntegralInRange<size_t>(0, names.size() - 1)]);
  in.ias = fdp.ConsumeIntegralInRange<unsigned>(0, 64);
  in.oas = fdp.ConsumeIntegralInRange<unsigned>(0, 64);
  in.granule = kGranules[fdp.ConsumeIntegralInRange<unsigned>(0, 2)];
  switch (fdp.ConsumeIntegralInRange<unsigned>(0, kBaseModes - 1)) {
    case kBaseZero: in.base = 0; break;
    case kBaseTables: in.base = kTablesBase; break;
    case kBaseAligned: in.base = fdp.ConsumeIntegral<uint64_t>() & ~uint64_t{0xfff}; break;
    default: in.base = fdp.ConsumeIntegral<uint64_t>();
  }
  std::vector<RootChoice> roots(fdp.ConsumeIntegralInRange<unsigned>(1, kMaxRoots));
  for (auto& r : roots) {
    r.inside = fdp.ConsumeBool();
    r.value = r.inside ? fdp.ConsumeIntegral<uint32_t>() : fdp.ConsumeIntegral<uint64_t>();
  }
  in.iovas.resize(fdp.ConsumeIntegralInRange<unsigned>(0, kMaxIovas));
  for (auto& iova : in.iovas) iova = fdp.ConsumeIntegral<uint64_t>();
  in.image = fdp.ConsumeRemainingBytes<uint8_t>();
  uint64_t span = std::max<uint64_t>(in.image.size(), 1);
  for (const auto& r : roots)
    in.roots.push_back(r.inside ? (in.base + r.value % span) & ~uint64_t{0x1f} : r.value);
  return in;
}

namespace {

// Appends what ConsumeIntegralInRange(0, range) reads as `value`: the most significant byte
// is consumed first, from the end of the data.
void put(std::vector<uint8_t>& tail, uint64_t value, uint64_t range) {
  std::vector<uint8_t> bytes;
  for (unsigned shift = 0; shift < 64 && (range >> shift) > 0; shift += 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
  tail.insert(tail.end(), bytes.rbegin(), bytes.rend());
}

size_t index_of(std::span<const std::string_view> names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::invalid_argument("unknown format " + name);
  return static_cast<size_t>(it - names.begin());
}

}  // namespace

std::vector<uint8_t> write_decode_input(const DecodeInput& in) {
  auto names = hw::format_names();
  std::vector<uint8_t> tail;  // in consumption order
  put(tail, index_of(names, in.format), names.size() - 1);
  put(tail, in.ias, 64);
  put(tail, in.oas, 64);
  put(tail, static_cast<uint64_t>(std::find(std::begin(kGranules), std::end(kGranules),
                                            in.granule) - std::begin(kGranules)), 2);
  put(tail, kBaseRaw, kBaseModes - 1);
  put(tail, in.base, ~uint64_t{0});
  put(tail, in.roots.size() - 1, kMaxRoots - 1);  // ConsumeIntegralInRange(1, 4)
  for (uint64_t root : in.roots) {
    put(tail, 0, 255);  // raw, not inside
    put(tail, root, ~uint64_t{0});
  }
  put(tail, in.iovas.size(), kMaxIovas);
  for (uint64_t iova : in.iovas) put(tail, iova, ~uint64_t{0});
  std::vector<uint8_t> out = in.image;
  out.insert(out.end(), tail.rbegin(), tail.rend());
  return out;
}

}  // namespace iommu::fuzz
