// impl:FORMAT: our own page-table engine (impl::Pgtable) as a driver under test.
#pragma once

#include <string_view>

#include "conform/checker.h"
#include "impl/pgtable.h"

namespace iommu::conform {

// Throws std::invalid_argument naming the valid formats for an unknown one.
DriverSource impl_driver_source(std::string_view format,
                                ref::PartialUnmap policy = ref::PartialUnmap::kSplit);

}  // namespace iommu::conform
