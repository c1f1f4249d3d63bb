// What a walk or a cache hands a device: a leaf translation or a fault, with the permissions
// the descriptor really grants. Shared by the walkers, the caches and the device model.
#pragma once

#include <cstdint>
#include <string_view>

namespace iommu::hw {

// Permissions as hardware grants them (decoded from descriptor bits, not Linux prot).
struct Perms {
  bool read = false;
  bool write = false;
  bool exec = false;
  bool priv_only = false;  // accessible to privileged requests only (ARM AP[1] clear)
  bool operator==(const Perms&) const = default;
};

// What a table descriptor leaves the leaves below it: everything, unless the format's tables
// carry permissions of their own (AMD IR/IW, VT-d R/W, x86 RW/US/XD), which hardware ANDs
// along the walk.
inline constexpr Perms kNoLimit{.read = true, .write = true, .exec = true, .priv_only = false};
Perms restrict_perms(const Perms& perms, const Perms& limit);
// The Linux IOMMU_* flags `prot` less what `limit` takes away.
int restrict_prot(int prot, const Perms& limit);

// A leaf translation: [iova_base, iova_base + size) -> [paddr_base, paddr_base + size).
struct Leaf {
  uint64_t iova_base = 0;
  uint64_t paddr_base = 0;
  uint64_t size = 0;  // leaf size in bytes (4K page, 2M block, v7s 64K large page, ...)
  unsigned level = 0;  // level of the leaf descriptor, in the format's own numbering
  Perms perms;
  bool operator==(const Leaf&) const = default;
};

enum class FaultReason {
  kTranslation,   // an invalid (empty) descriptor on the walk
  kReserved,      // a reserved encoding, e.g. LPAE type 0b01 at the last level
  kAddressSize,   // input address beyond the ias, or output beyond the oas
  kPermission,    // the leaf does not grant the access
  kBadTable,      // the walk read table memory that is freed or was never allocated
  kInconsistent,  // replicated entries disagree (v7s 64K/16M leaves)
};

std::string_view fault_reason_name(FaultReason r);

struct Fault {
  FaultReason reason = FaultReason::kTranslation;
  unsigned level = 0;
  uint64_t desc_paddr = 0;  // physical address of the descriptor that faulted (0 if none)
};

// A device access: what it wants to do and with what privilege.
struct Access {
  bool write = false;
  bool exec = false;
  bool priv = false;
};

}  // namespace iommu::hw
