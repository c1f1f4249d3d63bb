#include "hw/translation.h"

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

}  // namespace iommu::hw
