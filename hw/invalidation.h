// The invalidation vocabulary the caches understand. Every vendor command (SMMUv3 TLBI, VT-d
// IOTLB descriptor, AMD INVALIDATE_IOMMU_PAGES) decodes to one Command, so the caches apply
// exactly the address set the wire encoding covers, not the range the driver meant.
#pragma once

#include <cstdint>
#include <string>

namespace iommu::hw {

// ASID (SMMUv3 stage 1), VMID (stage 2) or domain id (VT-d, AMD): whatever tags cache entries.
using ContextId = uint32_t;

// Inclusive, so that a range reaching the top of the 64-bit space is representable.
struct IovaRange {
  uint64_t start = 0;
  uint64_t last = 0;

  static constexpr IovaRange everything() { return {0, ~uint64_t{0}}; }
  bool contains(uint64_t iova) const { return iova >= start && iova <= last; }
  // [base, base + size) with size >= 1 and no wrap.
  bool overlaps(uint64_t base, uint64_t size) const {
    return base <= last && base + (size - 1) >= start;
  }
  bool covers(uint64_t base, uint64_t size) const {
    return base >= start && base + (size - 1) <= last;
  }
  bool operator==(const IovaRange&) const = default;
};

enum class CommandKind { kAll, kContext, kRange, kSync };

struct Command {
  CommandKind kind = CommandKind::kSync;
  ContextId ctx = 0;
  IovaRange range;
  // Leaf=1 (SMMUv3), IH=1 (VT-d), PDE=0 (AMD): walk caches may be kept.
  bool leaf_only = false;
  // SMMUv3 TTL hint: only leaves of this size are guaranteed to go; 0 = no hint.
  uint64_t leaf_size = 0;
  // VT-d: a superpage leaf goes only if the range covers all of it (AM must cover it).
  bool whole_leaf = false;

  static Command all();
  static Command context(ContextId ctx);
  static Command by_range(ContextId ctx, IovaRange r, bool leaf_only);
  static Command sync();

  // Whether a cached leaf or cached fault [base, base + size) of ctx is removed.
  bool hits_leaf(ContextId entry_ctx, uint64_t base, uint64_t size) const;
  // Whether a walk-cache entry for a table descriptor spanning [base, base + span) is removed.
  bool hits_table(ContextId entry_ctx, uint64_t base, uint64_t span) const;
};

std::string describe(const Command& cmd);

// Where an IOMMU driver sends decoded commands: the one narrow interface between software that
// invalidates (impl/, conform/) and the hardware model. A kSync completes what came before it.
class InvalidationSink {
 public:
  virtual ~InvalidationSink() = default;
  virtual void issue(const Command& cmd) = 0;
};

}  // namespace iommu::hw
