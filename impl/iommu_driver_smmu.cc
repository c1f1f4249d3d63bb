// Arm SMMUv3 (arm-smmu-v3.c): TLBI_NH_VA / TLBI_S2_IPA by range (__arm_smmu_tlb_inv_range),
// TLBI_NH_ASID / TLBI_S12_VMALL for the whole context (arm_smmu_tlb_inv_context), CMD_SYNC.
#include <fmt/core.h>

#include <stdexcept>

#include "hw/invalidation_encode.h"
#include "hw/invalidation_smmu.h"
#include "impl/iommu_driver.h"

namespace iommu::impl {
namespace {

class SmmuEncoder final : public CommandEncoder {
 public:
  explicit SmmuEncoder(const IommuDriverConfig& cfg)
      : stage2_(cfg.smmu_stage == 2),
        id_(static_cast<uint16_t>(cfg.ctx)),
        caps_{.range_inv = cfg.smmu_range_inv, .page_shift = cfg.smmu_page_shift} {}

  void context(std::vector<hw::Command>& out) const override {
    hw::SmmuCmd cmd;
    if (stage2_) {
      cmd.op = hw::SmmuOp::kTlbiS12Vmall;
      cmd.vmid = id_;
    } else {
      cmd.op = hw::SmmuOp::kTlbiNhAsid;
      cmd.asid = id_;
    }
    emit(cmd, out);
  }

  void range(uint64_t first, uint64_t last, uint64_t granule, bool leaf_only,
             std::vector<hw::Command>& out) const override {
    const uint64_t size = last - first + 1;
    if (size == 0 || too_many_single_commands(size)) {
      context(out);
      return;
    }
    hw::SmmuCmd proto{.leaf = leaf_only};
    if (stage2_) {
      proto.op = hw::SmmuOp::kTlbiS2Ipa;
      proto.vmid = id_;
    } else {
      proto.op = hw::SmmuOp::kTlbiNhVa;
      proto.asid = id_;
    }
    for (const hw::SmmuCmd& cmd : hw::smmu_encode_range(proto, first, size, granule, caps_))
      emit(cmd, out);
  }

  void sync(std::vector<hw::Command>& out) const override { emit(hw::SmmuCmd{}, out); }

 private:
  // What the SMMU reads from the command queue.
  static void emit(const hw::SmmuCmd& cmd, std::vector<hw::Command>& out) {
    out.push_back(hw::smmu_decode(hw::smmu_unpack(hw::smmu_pack(cmd))));
  }

  // Without range invalidation, a large range costs one command per page; Linux then
  // invalidates the whole ASID instead (CMDQ_MAX_TLBI_OPS in arm-smmu-v3-sva.c).
  bool too_many_single_commands(uint64_t size) const {
    const uint64_t max_ops = uint64_t{1} << (caps_.page_shift - 3);
    return !caps_.range_inv && (size >> caps_.page_shift) >= max_ops;
  }

  bool stage2_;
  uint16_t id_;
  hw::SmmuRangeCaps caps_;
};

}  // namespace

std::unique_ptr<CommandEncoder> make_smmu_encoder(const IommuDriverConfig& cfg) {
  if (cfg.smmu_stage != 1 && cfg.smmu_stage != 2)
    throw std::invalid_argument(fmt::format("SMMUv3 stage {} is not 1 or 2", cfg.smmu_stage));
  if (cfg.smmu_page_shift != 12 && cfg.smmu_page_shift != 14 && cfg.smmu_page_shift != 16) {
    throw std::invalid_argument(fmt::format(
        "SMMUv3 page shift {} is not 12, 14 or 16 (a 4K, 16K or 64K translation granule)",
        cfg.smmu_page_shift));
  }
  if (cfg.np_caching) {
    throw std::invalid_argument(
        "SMMUv3 never caches non-present entries: np_caching is for the VT-d and AMD styles");
  }
  return std::make_unique<SmmuEncoder>(cfg);
}

}  // namespace iommu::impl
