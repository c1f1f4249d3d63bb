// The IOMMU driver's invalidation side: what an Arm SMMUv3, Intel VT-d, AMD-Vi or RISC-V IOMMU
// driver sends to the hardware when a page table asks for a flush (iommu_flush_ops) and when the
// core asks for one (iommu_domain_ops: iotlb_sync, flush_iotlb_all, iotlb_sync_map). Every
// command goes through its vendor wire form and back (hw/invalidation_*.h), so the hardware
// model receives exactly the address set the real encoding covers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/invalidation.h"
#include "impl/io_pgtable.h"
#include "impl/mutant.h"

namespace iommu::impl {

enum class IommuStyle { kSmmuV3, kVtd, kAmd, kRiscv };

struct IommuDriverConfig {
  IommuStyle style = IommuStyle::kSmmuV3;
  // The tag the hardware's cache entries carry: SMMUv3 ASID (stage 1) or VMID (stage 2), VT-d
  // domain id, AMD domain id (16-bit fields), RISC-V PSCID (20 bits; 16 used here).
  hw::ContextId ctx = 0;
  // The hardware may cache non-present entries (VT-d caching mode, AMD NpCache), so a new
  // mapping needs an invalidation. SMMUv3 never does.
  bool np_caching = false;

  unsigned smmu_stage = 1;         // 1: TLBI_NH_VA by ASID; 2: TLBI_S2_IPA by VMID
  bool smmu_range_inv = true;      // ARM_SMMU_FEAT_RANGE_INV
  unsigned smmu_page_shift = 12;   // __ffs(pgsize_bitmap): the TG of range commands
  unsigned vtd_mamv = 18;          // cap_max_amask_val (QEMU's intel-iommu reports 18)
  bool riscv_nl = false;           // RISC-V capabilities.NL: non-leaf invalidation by address
  bool riscv_s = false;            // RISC-V capabilities.S: address-range invalidation

  // The bug zoo's seeded bug in this driver (impl/mutant.h): kGatherDropsDisjoint,
  // kSyncMapNothing, kVtdWalkLeafOnly, kAmdWalkNoPde; the others are not the driver's.
  Mutant bug = Mutant::kNone;
};

// What the driver sent. `commands` counts wire commands, syncs included; the rest count calls
// that issued at least one command.
struct IommuStats {
  uint64_t commands = 0;
  uint64_t range_commands = 0;
  uint64_t context_commands = 0;
  uint64_t syncs = 0;
  uint64_t iotlb_syncs = 0;
  uint64_t flush_walks = 0;
  uint64_t flush_alls = 0;
  uint64_t sync_maps = 0;
};

// One vendor's command set, decoded as the hardware decodes it.
class CommandEncoder {
 public:
  virtual ~CommandEncoder() = default;
  // Every translation and intermediate entry of the context.
  virtual void context(std::vector<hw::Command>& out) const = 0;
  // [first, last] (inclusive, so the whole 64-bit space is expressible): leaves only (walk
  // caches kept) or leaves and walk caches. granule is the leaf size of a leaf flush, the
  // table granule of a walk flush.
  virtual void range(uint64_t first, uint64_t last, uint64_t granule, bool leaf_only,
                     std::vector<hw::Command>& out) const = 0;
  // Completes everything issued before it (CMD_SYNC, invalidation wait, COMPLETION_WAIT).
  virtual void sync(std::vector<hw::Command>& out) const = 0;
};

std::unique_ptr<CommandEncoder> make_smmu_encoder(const IommuDriverConfig& cfg);
std::unique_ptr<CommandEncoder> make_vtd_encoder(const IommuDriverConfig& cfg);
std::unique_ptr<CommandEncoder> make_amd_encoder(const IommuDriverConfig& cfg);
std::unique_ptr<CommandEncoder> make_riscv_encoder(const IommuDriverConfig& cfg);

// Thread-safe: page tables may flush from several threads. Each call's commands and their
// sync reach the sink together, never interleaved with another call's.
class IommuDriver : public FlushOps, public IotlbOps {
 public:
  // Throws std::invalid_argument for a context id that does not fit 16 bits, an SMMUv3 stage
  // other than 1 or 2, or non-present caching on SMMUv3 or RISC-V.
  IommuDriver(hw::InvalidationSink& sink, const IommuDriverConfig& cfg);

  const IommuDriverConfig& config() const { return cfg_; }
  bool caches_non_present() const override { return cfg_.np_caching; }

  // iommu_flush_ops. tlb_flush_all: context invalidation + sync. tlb_flush_walk: a range with
  // walk caches (Leaf=0, IH=0, PDE=1) + sync. tlb_add_page: gather with the vendor's merge rule
  // (iommu_iotlb_gather_add_page; AMD's own for AMD), issuing the gather early when needed.
  void tlb_flush_all() override;
  void tlb_flush_walk(uint64_t iova, uint64_t size, uint64_t granule) override;
  void tlb_add_page(IotlbGather& gather, uint64_t iova, uint64_t granule) override;

  // iommu_iotlb_sync: a leaf-only range over [start, end] with the gather's pgsize, then a
  // sync; nothing for an empty gather. The gather is reinitialized either way.
  void iotlb_sync(IotlbGather& gather) override;
  // ops->flush_iotlb_all: the whole context, synchronously.
  void flush_iotlb_all() override;
  // ops->iotlb_sync_map: under non-present caching, invalidate the new range and sync
  // (cache_tag_flush_range_np, domain_flush_np_cache); otherwise nothing.
  void iotlb_sync_map(uint64_t iova, uint64_t size) override;

  IommuStats stats() const;

 private:
  void issue_gather(const IotlbGather& gather);
  void send_locked(uint64_t& call_counter);

  hw::InvalidationSink& sink_;
  IommuDriverConfig cfg_;
  std::unique_ptr<CommandEncoder> encoder_;
  mutable std::mutex mu_;
  std::vector<hw::Command> batch_;  // under mu_: one call's commands, sync last
  IommuStats stats_;
};

}  // namespace iommu::impl
