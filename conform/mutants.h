// The bug zoo (`iommucheck mutants --driver-source impl`): every seeded bug of impl/mutant.h,
// with the driver configuration, domain and caller mode that exercise it, run as a campaign until
// the checker kills it or its time runs out. The bug reaches only that campaign's instances
// (CheckOptions::bug: its IOMMU driver model and the driver under test).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "conform/campaign.h"
#include "impl/mutant.h"

namespace iommu::conform {

struct MutantSpec {
  impl::Mutant id;
  std::string_view name;
  std::string_view models;  // the real bug or bug class it re-creates
  std::string_view format;  // the impl format it runs on, or "virtio"
  unsigned ias = 0;         // 0: the format's default
  ref::PartialUnmap policy = ref::PartialUnmap::kSplit;
  CallerMode mode = CallerMode::kContract;
  // The domain it runs in: the IOMMU model (nullopt: the default for the format), lazy or
  // strict, non-present caching.
  std::optional<IommuKind> iommu{};
  ref::Invalidation invalidation = ref::Invalidation::kStrict;
  bool np_caching = false;
};

std::span<const MutantSpec> mutant_specs();

// What a campaign against a mutant came to (the impl zoo's and the kernel zoo's alike).
struct MutantKill {
  bool killed = false;
  std::string check{};      // the check that killed it
  std::string violation{};  // its message, minimized
  size_t trace_ops = 0;     // length of the minimized trace
  uint64_t ops = 0;         // ops until the kill (or run in all, when it survived)
  double seconds = 0;       // time until the kill (or spent, when it survived)
};

MutantKill mutant_kill(const CampaignReport& r);

struct MutantResult : MutantKill {
  const MutantSpec* spec = nullptr;
};

MutantResult run_mutant(const MutantSpec& spec, double seconds, uint64_t seed);

}  // namespace iommu::conform
