// RISC-V IOMMU (riscv/iommu.c, Linux 7.2: riscv_iommu_iotlb_inval). Without the NL (non-leaf
// invalidation) and S (address-range invalidation) capabilities: one IOTINVAL.VMA with AV=1 per
// leaf-table stride of the range, up to 512 of them; the whole PSCID (AV=0) for larger ranges,
// for walk flushes (non-leaf entries changed) and for flush_iotlb_all. With NL, walk flushes
// take the per-stride commands with NL=1; with S, a range of 8K or more is one NAPOT command.
// IOFENCE.C is the sync. The hardware caches no non-present entries: iotlb_sync_map sends
// nothing.
#include <stdexcept>

#include "hw/invalidation_encode.h"
#include "hw/invalidation_riscv.h"
#include "impl/iommu_driver.h"

namespace iommu::impl {
namespace {

class RiscvEncoder final : public CommandEncoder {
 public:
  explicit RiscvEncoder(const IommuDriverConfig& cfg)
      : pscid_(cfg.ctx), caps_{.nl = cfg.riscv_nl, .s = cfg.riscv_s} {}

  void context(std::vector<hw::Command>& out) const override {
    emit({.op = hw::RiscvOp::kIotinvalVma, .pscv = true, .pscid = pscid_}, out);
  }

  void range(uint64_t first, uint64_t last, uint64_t granule, bool leaf_only,
             std::vector<hw::Command>& out) const override {
    for (const hw::RiscvCmd& cmd :
         hw::riscv_encode_range(pscid_, first, last, granule, !leaf_only, caps_))
      emit(cmd, out);
  }

  // riscv_iommu_cmd_iofence: PR=PW=1, no completion write.
  void sync(std::vector<hw::Command>& out) const override {
    emit({.op = hw::RiscvOp::kIofenceC, .pr = true, .pw = true}, out);
  }

 private:
  void emit(const hw::RiscvCmd& cmd, std::vector<hw::Command>& out) const {
    out.push_back(hw::riscv_decode(hw::riscv_unpack(hw::riscv_pack(cmd), caps_)));
  }

  uint32_t pscid_;
  hw::RiscvCaps caps_;
};

}  // namespace

std::unique_ptr<CommandEncoder> make_riscv_encoder(const IommuDriverConfig& cfg) {
  if (cfg.np_caching) {
    throw std::invalid_argument(
        "the RISC-V IOMMU caches no non-present entries: np_caching is for the VT-d and AMD "
        "styles");
  }
  return std::make_unique<RiscvEncoder>(cfg);
}

}  // namespace iommu::impl
