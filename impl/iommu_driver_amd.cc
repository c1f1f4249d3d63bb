// AMD-Vi (amd/iommu.c): INVALIDATE_IOMMU_PAGES over the smallest aligned power-of-two block
// holding the range (build_inv_address), split into naturally aligned chunks under NpCache
// (amd_iommu_domain_flush_pages), the all-pages address for the whole domain
// (amd_iommu_domain_flush_all), COMPLETION_WAIT as the sync.
#include <algorithm>

#include "base/bits.h"
#include "hw/invalidation_amd.h"
#include "hw/invalidation_encode.h"
#include "impl/iommu_driver.h"

namespace iommu::impl {
namespace {

// Linux flushes one command at or above this size whatever NpCache says.
constexpr uint64_t kAmdChunkLimit = uint64_t{1} << 52;

class AmdEncoder final : public CommandEncoder {
 public:
  explicit AmdEncoder(const IommuDriverConfig& cfg)
      : domid_(static_cast<uint16_t>(cfg.ctx)),
        np_cache_(cfg.np_caching),
        walk_no_pde_(cfg.bug == Mutant::kAmdWalkNoPde) {}

  void context(std::vector<hw::Command>& out) const override {
    emit(hw::amd_encode_range(domid_, 0, ~uint64_t{0}, /*pde=*/true), out);
  }

  void range(uint64_t first, uint64_t last, uint64_t /*granule*/, bool leaf_only,
             std::vector<hw::Command>& out) const override {
    leaf_only = leaf_only || walk_no_pde_;
    if (!np_cache_ || last - first >= kAmdChunkLimit - 1) {
      emit(hw::amd_encode_range(domid_, first, last, !leaf_only), out);
      return;
    }
    // A hypervisor shadowing the tables must revisit every page a flush covers, so under
    // NpCache the range goes out as naturally aligned blocks instead of one wider block.
    uint64_t address = first, size = last - first + 1;
    while (size != 0) {
      const unsigned size_align = fls64_idx(size);
      const unsigned align = address != 0 ? std::min(ffs64_idx(address), size_align) : size_align;
      const uint64_t chunk = bit(align);
      emit(hw::amd_encode_range(domid_, address, address + (chunk - 1), !leaf_only), out);
      address += chunk;
      size -= chunk;
    }
  }

  void sync(std::vector<hw::Command>& out) const override {
    emit(hw::AmdCmd{.op = hw::AmdOp::kCompletionWait}, out);
  }

 private:
  static void emit(const hw::AmdCmd& cmd, std::vector<hw::Command>& out) {
    out.push_back(hw::amd_decode(hw::amd_unpack(hw::amd_pack(cmd))));
  }

  uint16_t domid_;
  bool np_cache_;
  bool walk_no_pde_;  // the seeded bug: a walk flush keeps the page directory cache
};

}  // namespace

std::unique_ptr<CommandEncoder> make_amd_encoder(const IommuDriverConfig& cfg) {
  return std::make_unique<AmdEncoder>(cfg);
}

}  // namespace iommu::impl
