// impl:FORMAT: our own page-table engine (impl::Pgtable) as a driver under test, splitting a
// partly unmapped leaf as Linux <= 6.12 LPAE does; impl-refuse:FORMAT and impl-whole:FORMAT
// are the same engine with the other partial-unmap policies (refuse as LPAE from 6.13, whole
// leaf as AMD and VT-d).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conform/checker.h"
#include "impl/pgtable.h"

namespace iommu::conform {

// "impl", "impl-refuse", "impl-whole": the kind before the colon of an impl driver's name.
std::string_view impl_kind(ref::PartialUnmap policy);
// The policy an impl kind names; nullopt for a kind that is not impl's.
std::optional<ref::PartialUnmap> impl_policy(std::string_view kind);

// Throws std::invalid_argument naming the valid formats for an unknown one, or the valid
// ias/oas for a format config that asks for others.
DriverSource impl_driver_source(const hw::FormatConfig& format,
                                ref::PartialUnmap policy = ref::PartialUnmap::kSplit);
DriverSource impl_driver_source(std::string_view format,
                                ref::PartialUnmap policy = ref::PartialUnmap::kSplit);

}  // namespace iommu::conform
