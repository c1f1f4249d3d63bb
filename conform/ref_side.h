// The reference side of a campaign: each op applied to ref::RefDomain, returning the value a
// caller sees, so the checker can compare it with the driver side's.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "conform/op.h"
#include "ref/domain.h"

namespace iommu::conform {

class RefSide {
 public:
  explicit RefSide(const ref::DomainConfig& cfg) : domain_(cfg) {}

  // 0 or -errno for maps, bytes for unmaps and map_sg (or -errno), the paddr for iova_to_phys;
  // 0 for syncs and device accesses.
  int64_t apply(const Op& op);

  const ref::RefDomain& domain() const { return domain_; }
  // The driver's answers to the next op's calls, for the reference to follow.
  void follow(std::vector<ref::DriverChoice> choices) { domain_.follow(std::move(choices)); }

 private:
  ref::GatherId gather(GatherLabel label);

  ref::RefDomain domain_;
  std::map<GatherLabel, ref::GatherId> gathers_;
};

}  // namespace iommu::conform
