#include "hw/translation.h"

#include "base/prot.h"

namespace iommu::hw {

std::string_view fault_reason_name(FaultReason r) {
  switch (r) {
    case FaultReason::kTranslation: return "translation";
    case FaultReason::kReserved: return "reserved-encoding";
    case FaultReason::kAddressSize: return "address-size";
    case FaultReason::kPermission: return "permission";
    case FaultReason::kBadTable: return "bad-table-memory";
    case FaultReason::kInconsistent: return "inconsistent-replicas";
  }
  return "unknown";
}

Perms restrict_perms(const Perms& perms, const Perms& limit) {
  return {.read = perms.read && limit.read,
          .write = perms.write && limit.write,
          .exec = perms.exec && limit.exec,
          .priv_only = perms.priv_only || limit.priv_only};
}

int restrict_prot(int prot, const Perms& limit) {
  if (!limit.read) prot &= ~IOMMU_READ;
  if (!limit.write) prot &= ~IOMMU_WRITE;
  if (!limit.exec) prot |= IOMMU_NOEXEC;
  if (limit.priv_only) prot |= IOMMU_PRIV;
  return prot;
}

}  // namespace iommu::hw
