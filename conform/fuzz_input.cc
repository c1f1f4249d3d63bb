#include "conform/fuzz_input.h"

#include <fmt/core.h>
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <stdexcept>

#include "base/bits.h"
#include "base/prot.h"
#include "conform/impl_driver.h"
#include "conform/iommu_choice.h"
#include "hw/format.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

// Turns provider bytes into ops inside two hot windows (the bottom and the top of the ias),
// so that a few bytes reach collisions, boundaries and the top of the address space.
class OpDecoder {
 public:
  OpDecoder(FuzzedDataProvider& in, const ref::DomainConfig& cfg) : in_(in), cfg_(cfg) {
    for (uint64_t b = cfg.pgsize_bitmap; b != 0; b &= b - 1) pgsizes_.push_back(b & (~b + 1));
    window_ = std::min(pgsizes_.back() * 4, uint64_t{1} << (cfg.ias - 1));
  }

  Op next() {
    switch (in_.ConsumeIntegralInRange<int>(0, 11)) {
      case 0: case 1: case 2: return map();
      case 3: return map_sg();
      case 4: case 5: return UnmapOp{iova(), size()};
      case 6: return UnmapFastOp{iova(), size(), gather()};
      case 7: return IotlbSyncOp{gather()};
      case 8: return FlushIotlbAllOp{};
      case 9: {
        const MapOp m = std::get<MapOp>(map());
        return MapNosyncOp{m.iova, m.paddr, m.size, m.prot};
      }
      case 10: return IotlbSyncMapOp{iova(), size()};
      default:
        if (in_.ConsumeBool()) return WriteOp{.iova = iova() + in_.ConsumeIntegral<uint16_t>()};
        return ReadOp{.iova = iova() + in_.ConsumeIntegral<uint16_t>(), .priv = in_.ConsumeBool()};
    }
  }

 private:
  uint64_t pgsize() { return pgsizes_[in_.ConsumeIntegralInRange<size_t>(0, pgsizes_.size() - 1)]; }
  uint64_t iova() {
    const uint64_t base = in_.ConsumeBool() ? 0 : low_mask(cfg_.ias) - window_ + 1;
    const uint64_t min = pgsizes_.front();
    return base + in_.ConsumeIntegralInRange<uint64_t>(0, window_ / min - 1) * min;
  }
  // A multiple of the largest page, so that adding the iova's offset in it makes the two
  // congruent and large leaves possible.
  uint64_t paddr() {
    const uint64_t room = low_mask(cfg_.oas) / 2;
    return in_.ConsumeIntegralInRange<uint64_t>(1, room / pgsizes_.back()) * pgsizes_.back();
  }
  uint64_t size() { return pgsize() * in_.ConsumeIntegralInRange<uint64_t>(1, 40); }
  int prot() { return in_.ConsumeIntegralInRange<int>(0, kProtMask); }
  GatherLabel gather() { return in_.ConsumeIntegralInRange<GatherLabel>(1, 3); }

  // Either a run of one page size from an iova aligned to it, or a short misaligned range
  // that iommu_pgsize cuts into small pages; never millions of small pages.
  Op map() {
    if (in_.ConsumeBool()) {
      const uint64_t pgsize = this->pgsize();
      const uint64_t v = iova() & ~(pgsize - 1);
      return MapOp{v, paddr() + (v & (pgsizes_.back() - 1)),
                   pgsize * in_.ConsumeIntegralInRange<uint64_t>(1, 40), prot()};
    }
    const uint64_t min = pgsizes_.front();
    return MapOp{iova(), paddr() + in_.ConsumeIntegralInRange<uint64_t>(0, 15) * min,
                 min * in_.ConsumeIntegralInRange<uint64_t>(1, 64), prot()};
  }

  Op map_sg() {
    MapSgOp op{.iova = iova(), .prot = prot(), .segs = {}};
    uint64_t pa = paddr();
    for (int n = in_.ConsumeIntegralInRange<int>(1, 4); n > 0; n--) {
      if (in_.ConsumeBool()) pa += pgsizes_.front() * 8;
      const uint64_t length = pgsizes_.front() * in_.ConsumeIntegralInRange<uint64_t>(1, 8);
      op.segs.push_back({pa, length});
      pa += length;
    }
    return op;
  }

  FuzzedDataProvider& in_;
  const ref::DomainConfig& cfg_;
  std::vector<uint64_t> pgsizes_;
  uint64_t window_ = 0;
};

// The first format from `picked` on (wrapping) that the tree provides.
const std::string& linux_format(const FuzzDriverChoice& choice, size_t picked) {
  const auto names = hw::format_names();
  for (size_t i = 0; i < names.size(); i++) {
    auto it = choice.linux_configs.find(std::string(names[(picked + i) % names.size()]));
    if (it != choice.linux_configs.end()) return it->first;
  }
  throw std::invalid_argument("decode_fuzz_input: the linux: choice lists no format");
}

}  // namespace

Trace decode_fuzz_input(std::span<const uint8_t> data, const FuzzDriverChoice& choice) {
  FuzzedDataProvider in(data.data(), data.size());
  const auto names = impl::pgtable_formats();
  const size_t picked = in.ConsumeIntegralInRange<size_t>(0, names.size() - 1);
  // Read whatever the driver: an input decodes to the same ops for impl and linux:.
  const auto policy = in.ConsumeBool() ? ref::PartialUnmap::kWhole : ref::PartialUnmap::kSplit;
  Trace t;
  if (choice.linux_tree) {
    const std::string& format = choice.format.empty() ? linux_format(choice, picked)
                                                      : choice.format;
    t.driver = "linux:" + format;
    t.config = choice.linux_configs.at(format);
  } else {
    const std::string_view format = choice.format.empty() ? names[picked] : choice.format;
    t.driver = fmt::format("impl:{}", format);
    t.config = impl_driver_source(format, policy).info.config;
  }
  t.config->invalidation = in.ConsumeBool() ? ref::Invalidation::kLazy : ref::Invalidation::kStrict;
  t.config->np_caching =
      in.ConsumeBool() && np_caching_possible(t.driver->substr(t.driver->find(':') + 1));
  OpDecoder decode(in, *t.config);
  while (in.remaining_bytes() > 0 && t.ops.size() < kMaxFuzzOps) t.ops.push_back(decode.next());
  return t;
}

}  // namespace iommu::conform
