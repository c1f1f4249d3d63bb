#include "ref/selfcheck.h"

#include <fmt/core.h>

#include <algorithm>
#include <random>

#include "base/bits.h"
#include "base/prot.h"
#include "ref/domain.h"
#include "ref/page_oracle.h"

namespace iommu::ref {
namespace {

constexpr size_t kMaxDetails = 5;

class Run {
 public:
  Run(const DomainConfig& cfg, uint64_t seed) : ref_(cfg), oracle_(cfg), rng_(seed) {}

  // One random op on both models; a description of the mismatch, or empty.
  std::string step() {
    std::string op, diff;
    switch (pick(10)) {
      case 0: case 1: case 2: {
        const uint64_t iova = addr(cfg().ias), size = length(), paddr = related_paddr(iova);
        const int prot = random_prot();
        op = fmt::format("map iova={:#x} paddr={:#x} size={:#x} prot={}", iova, paddr, size,
                         prot_to_string(prot));
        const bool sync = pick(4) != 0;
        diff = sync ? compare(ref_.map(iova, paddr, size, prot), oracle_.map(iova, paddr, size, prot))
                    : compare(ref_.map_nosync(iova, paddr, size, prot),
                              oracle_.map_nosync(iova, paddr, size, prot));
        break;
      }
      case 3: case 4: case 5: {
        const uint64_t iova = near_mapping(), size = length();
        op = fmt::format("unmap iova={:#x} size={:#x}", iova, size);
        diff = compare(ref_.unmap(iova, size), oracle_.unmap(iova, size));
        break;
      }
      case 6: {
        const uint64_t iova = near_mapping(), size = length();
        op = fmt::format("unmap_fast+sync iova={:#x} size={:#x}", iova, size);
        const GatherId g = ref_.new_gather();
        diff = compare(ref_.unmap_fast(iova, size, g), oracle_.unmap_fast(iova, size, g));
        if (diff.empty()) diff = compare_state();
        ref_.iotlb_sync(g);
        oracle_.iotlb_sync(g);
        break;
      }
      case 7: {
        std::vector<Segment> segs = segments();
        const uint64_t iova = addr(cfg().ias);
        op = fmt::format("map_sg iova={:#x} nents={}", iova, segs.size());
        diff = compare(ref_.map_sg(iova, segs, IOMMU_READ), oracle_.map_sg(iova, segs, IOMMU_READ));
        break;
      }
      case 8: {
        const uint64_t iova = near_mapping(), size = length();
        op = fmt::format("iotlb_sync_map iova={:#x} size={:#x}", iova, size);
        ref_.iotlb_sync_map(iova, size);
        oracle_.iotlb_sync_map(iova, size);
        break;
      }
      default:
        op = "flush_iotlb_all";
        ref_.flush_iotlb_all();
        oracle_.flush_iotlb_all();
    }
    if (diff.empty()) diff = compare_state();
    return diff.empty() ? "" : fmt::format("{}: {}", op, diff);
  }

 private:
  const DomainConfig& cfg() const { return ref_.config(); }
  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  uint64_t random_pgsize() {
    std::vector<uint64_t> sizes;
    for (uint64_t b = cfg().pgsize_bitmap; b; b &= b - 1) sizes.push_back(b & (~b + 1));
    return sizes[pick(sizes.size())];
  }
  // Mostly page aligned and in range; sometimes not, to exercise the error paths.
  uint64_t addr(unsigned bits) {
    const uint64_t pg = random_pgsize();
    uint64_t a = (rng_() & low_mask(bits)) & ~(pg - 1);
    if (pick(50) == 0) a |= cfg().min_pgsize() / 2;
    if (pick(50) == 0) a = low_mask(bits) + 1 - pg;
    return a;
  }
  uint64_t length() {
    const uint64_t pg = pick(3) == 0 ? random_pgsize() : cfg().min_pgsize();
    uint64_t len = pg * (1 + pick(pick(2) ? 4 : 600));
    if (pick(60) == 0) len += cfg().min_pgsize() / 2;
    return pick(80) == 0 ? 0 : len;
  }
  // Congruent with iova modulo large pages half the time, so large leaves get used.
  uint64_t related_paddr(uint64_t iova) {
    uint64_t p = addr(cfg().oas);
    if (pick(2)) p = (p & ~low_mask(std::min(cfg().oas, 30u))) | (iova & low_mask(std::min(cfg().oas, 30u)));
    return p & low_mask(cfg().oas);
  }
  uint64_t near_mapping() {
    if (last_mapped_.empty() || pick(4) == 0) return addr(cfg().ias);
    const uint64_t base = last_mapped_[pick(last_mapped_.size())];
    return base + cfg().min_pgsize() * pick(8);
  }
  int random_prot() {
    static constexpr int kProts[] = {IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE,
                                     IOMMU_READ | IOMMU_NOEXEC, IOMMU_READ | IOMMU_PRIV,
                                     IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE, 0};
    return kProts[pick(std::size(kProts))];
  }
  std::vector<Segment> segments() {
    std::vector<Segment> segs(1 + pick(6));
    uint64_t paddr = addr(cfg().oas);
    for (Segment& s : segs) {
      if (pick(3) == 0) paddr = addr(cfg().oas);
      s = {paddr, cfg().min_pgsize() * (1 + pick(4))};
      paddr += s.length;
    }
    return segs;
  }

  template <class T, class U>
  std::string compare(T ref_result, U oracle_result) {
    if (static_cast<int64_t>(ref_result) == static_cast<int64_t>(oracle_result)) return "";
    return fmt::format("ref returned {:#x}, oracle {:#x}", static_cast<int64_t>(ref_result),
                       static_cast<int64_t>(oracle_result));
  }

  std::string compare_state() {
    uint64_t ref_pages = 0;
    for (const auto& [start, run] : ref_.pgtable().leaves().runs()) {
      ref_pages += run.size() / cfg().min_pgsize();
      if (last_mapped_.size() < 64) last_mapped_.push_back(start);
      else last_mapped_[pick(64)] = start;
      for (uint64_t off = 0; off < run.size(); off += cfg().min_pgsize())
        if (ref_.pgtable().leaves().leaf_at(start + off) != oracle_.leaf_at(start + off))
          return fmt::format("leaf at {:#x} differs", start + off);
    }
    if (ref_pages != oracle_.mapped_pages())
      return fmt::format("ref maps {} pages, oracle {}", ref_pages, oracle_.mapped_pages());
    for (int i = 0; i < 4; ++i) {
      const uint64_t iova = near_mapping() + pick(cfg().min_pgsize());
      DeviceView a = ref_.device_view(iova), b = oracle_.device_view(iova);
      auto by_paddr = [](const Observation& x, const Observation& y) {
        return std::tie(x.paddr, x.prot) < std::tie(y.paddr, y.prot);
      };
      std::sort(a.stale.begin(), a.stale.end(), by_paddr);
      std::sort(b.stale.begin(), b.stale.end(), by_paddr);
      if (a.current != b.current || a.may_fault != b.may_fault || a.stale != b.stale)
        return fmt::format("device view at {:#x} differs: ref {}, oracle {}", iova, show(a),
                           show(b));
    }
    return "";
  }

  static std::string show(const DeviceView& v) {
    std::string out = v.current ? fmt::format("current={:#x}/{}", v.current->paddr,
                                              prot_to_string(v.current->prot))
                                : std::string("current=none");
    out += v.may_fault ? " may_fault" : "";
    for (const Observation& o : v.stale) out += fmt::format(" stale={:#x}/{}", o.paddr, prot_to_string(o.prot));
    return out;
  }

  RefDomain ref_;
  PageOracle oracle_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> last_mapped_;
};

}  // namespace

std::vector<DomainConfig> selfcheck_configs() {
  std::vector<DomainConfig> out;
  // v7s-like sizes in a 4 MiB space, and LPAE-4K-like sizes in a 16 MiB one.
  const std::pair<uint64_t, unsigned> spaces[] = {{0x1000 | 0x10000 | 0x100000, 22},
                                                  {0x1000 | 0x200000, 24}};
  for (const auto& [bitmap, bits] : spaces)
    for (PartialUnmap policy : {PartialUnmap::kSplit, PartialUnmap::kRefuse, PartialUnmap::kWhole})
      for (bool np : {false, true})
        for (Invalidation inv : {Invalidation::kStrict, Invalidation::kLazy})
          out.push_back({bitmap, bits, bits, policy, np, inv});
  return out;
}

SelfcheckReport run_selfcheck(const SelfcheckOptions& opts) {
  SelfcheckReport report;
  const std::vector<DomainConfig> configs = selfcheck_configs();
  for (size_t c = 0; c < configs.size() && report.ops < opts.ops; ++c) {
    // The remainder goes to the first configurations, so exactly opts.ops run in all.
    const uint64_t per_config = opts.ops / configs.size() + (c < opts.ops % configs.size());
    Run run(configs[c], opts.seed * 1000003 + c);
    for (uint64_t i = 0; i < per_config; ++i) {
      const std::string diff = run.step();
      ++report.ops;
      if (opts.progress && report.ops % 5000 == 0) opts.progress(report.ops);
      if (diff.empty()) continue;
      ++report.mismatches;
      if (report.details.size() < kMaxDetails)
        report.details.push_back(fmt::format("[{}] op {}: {}", describe(configs[c]), i, diff));
      break;  // the two models have diverged: the rest of this run proves nothing
    }
  }
  return report;
}

}  // namespace iommu::ref
