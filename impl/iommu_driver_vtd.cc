// Intel VT-d (intel/cache.c): page-selective IOTLB invalidation with the address mask of
// calculate_psi_aligned_address (domain-selective when the mask exceeds MAMV), IH=1 when only
// leaves changed, domain-selective for the whole domain (cache_tag_flush_all).
#include "hw/invalidation_encode.h"
#include "hw/invalidation_vtd.h"
#include "impl/iommu_driver.h"

namespace iommu::impl {
namespace {

class VtdEncoder final : public CommandEncoder {
 public:
  explicit VtdEncoder(const IommuDriverConfig& cfg)
      : did_(static_cast<uint16_t>(cfg.ctx)),
        mamv_(cfg.vtd_mamv),
        walk_leaf_only_(cfg.bug == Mutant::kVtdWalkLeafOnly) {}

  void context(std::vector<hw::Command>& out) const override {
    emit({.gran = hw::VtdGran::kDomain, .did = did_}, out);
  }

  void range(uint64_t first, uint64_t last, uint64_t /*granule*/, bool leaf_only,
             std::vector<hw::Command>& out) const override {
    const bool ih = leaf_only || walk_leaf_only_;
    emit(hw::vtd_encode_range(did_, first, last, ih, mamv_), out);
  }

  // The invalidation wait descriptor has no wire form in hw/: it is the sync itself.
  void sync(std::vector<hw::Command>& out) const override { out.push_back(hw::Command::sync()); }

 private:
  static void emit(const hw::VtdIotlbDesc& desc, std::vector<hw::Command>& out) {
    out.push_back(hw::vtd_decode(hw::vtd_unpack(hw::vtd_pack(desc))));
  }

  uint16_t did_;
  unsigned mamv_;
  bool walk_leaf_only_;  // the seeded bug: a walk flush keeps the paging-structure caches
};

}  // namespace

std::unique_ptr<CommandEncoder> make_vtd_encoder(const IommuDriverConfig& cfg) {
  return std::make_unique<VtdEncoder>(cfg);
}

}  // namespace iommu::impl
