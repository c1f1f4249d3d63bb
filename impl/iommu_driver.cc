#include "impl/iommu_driver.h"

#include <fmt/core.h>

#include <stdexcept>

#include "impl/gather.h"

namespace iommu::impl {
namespace {

constexpr hw::ContextId kMaxContextId = 0xffff;

std::unique_ptr<CommandEncoder> make_encoder(const IommuDriverConfig& cfg) {
  if (cfg.ctx > kMaxContextId) {
    throw std::invalid_argument(
        fmt::format("IOMMU context id {} does not fit the 16-bit ASID/VMID/domain-id field", cfg.ctx));
  }
  switch (cfg.style) {
    case IommuStyle::kSmmuV3: return make_smmu_encoder(cfg);
    case IommuStyle::kVtd: return make_vtd_encoder(cfg);
    case IommuStyle::kAmd: return make_amd_encoder(cfg);
    case IommuStyle::kRiscv: return make_riscv_encoder(cfg);
  }
  throw std::invalid_argument("unknown IOMMU driver style");
}

}  // namespace

IommuDriver::IommuDriver(hw::InvalidationSink& sink, const IommuDriverConfig& cfg)
    : sink_(sink), cfg_(cfg), encoder_(make_encoder(cfg)) {}

void IommuDriver::send_locked(uint64_t& call_counter) {
  encoder_->sync(batch_);
  for (const hw::Command& cmd : batch_) {
    switch (cmd.kind) {
      case hw::CommandKind::kRange: ++stats_.range_commands; break;
      case hw::CommandKind::kSync: ++stats_.syncs; break;
      case hw::CommandKind::kAll:
      case hw::CommandKind::kContext: ++stats_.context_commands; break;
    }
    sink_.issue(cmd);
  }
  stats_.commands += batch_.size();
  ++call_counter;
  batch_.clear();
}

void IommuDriver::tlb_flush_all() {
  std::lock_guard lock(mu_);
  encoder_->context(batch_);
  send_locked(stats_.flush_alls);
}

void IommuDriver::flush_iotlb_all() { tlb_flush_all(); }

void IommuDriver::tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) {
  if (size == 0) return;
  std::lock_guard lock(mu_);
  encoder_->range(iova, iova + (size - 1), granule, /*leaf_only=*/false, batch_);
  send_locked(stats_.flush_walks);
}

void IommuDriver::issue_gather(const IotlbGather& gather) {
  if (gather.empty()) return;
  std::lock_guard lock(mu_);
  encoder_->range(gather.start, gather.end, gather.pgsize, /*leaf_only=*/true, batch_);
  send_locked(stats_.iotlb_syncs);
}

void IommuDriver::tlb_add_page(IotlbGather& gather, uint64_t iova, uint64_t granule) {
  auto sync = [this](IotlbGather& g) { issue_gather(g); };
  if (cfg_.style == IommuStyle::kAmd) {
    amd_iotlb_gather_add_page(gather, iova, granule, cfg_.np_caching, sync);
  } else {
    iotlb_gather_add_page(gather, iova, granule, sync, cfg_.bug);
  }
}

void IommuDriver::iotlb_sync(IotlbGather& gather) {
  issue_gather(gather);
  iotlb_gather_init(gather);
}

void IommuDriver::iotlb_sync_map(uint64_t iova, uint64_t size) {
  if (!cfg_.np_caching || size == 0 || cfg_.bug == Mutant::kSyncMapNothing) return;
  std::lock_guard lock(mu_);
  // Linux sends IH=0 (VT-d) and PDE=1 (AMD) here: a cached non-present entry may be at any level.
  encoder_->range(iova, iova + (size - 1), 0, /*leaf_only=*/false, batch_);
  send_locked(stats_.sync_maps);
}

IommuStats IommuDriver::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace iommu::impl
