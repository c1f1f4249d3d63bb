// The kernel bug zoo (`iommucheck mutants --driver-source linux --kernel DIR`): seeded bugs in a
// copy of a Linux tree's io-pgtable sources, each a textual edit of one exact snippet, built as
// a linux: driver of its own (conform/linux_build.h caches it by content) and run as a campaign
// until the checker kills it or its time runs out. docs/LINUX.md, "The kernel bug zoo".
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "conform/campaign.h"
#include "conform/iommu_choice.h"
#include "conform/mutants.h"
#include "conform/trace.h"

namespace iommu::conform {

// A mutant that cannot be applied to a tree: none of its snippets is in the file, or one is
// there more than once. The message names the mutant, the file and the trees it applies to.
struct LinuxMutantError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One way of writing the edit: the exact text `from` (once in the file) becomes `to`. Where the
// code differs between kernel versions a mutant has one edit per version; the first whose
// snippet is in the tree is applied.
struct LinuxEdit {
  std::string_view versions;  // the trees it is written for, "6.12", "7.2", "6.12 7.2"
  std::string_view from;
  std::string_view to;
};

struct LinuxMutantSpec {
  std::string_view name;
  std::string_view models;  // the real bug or bug class it re-creates
  std::string_view file;    // relative to the tree's root
  LinuxEdit edits[2];       // the second may be empty (from == "")
  std::string_view format;  // the linux: variant it runs on
  CallerMode mode = CallerMode::kContract;
  std::optional<IommuKind> iommu{};  // nullopt: the default for the variant
  // The caller never unmaps part of a leaf (the reference is told the driver refuses it), so
  // that a 6.12 tree's known split findings (docs/LINUX.md) cannot kill the mutant in its
  // stead. Off only for mutants of the split itself.
  bool whole_leaf_unmaps = true;
};

std::span<const LinuxMutantSpec> linux_mutant_specs();

// Copies the tree's io-pgtable files (linux_source_files) to `out` and applies the mutant's
// edit there. Returns the `versions` of the edit applied. Throws LinuxMutantError.
std::string apply_linux_mutant(const LinuxMutantSpec& spec, const std::filesystem::path& tree,
                               const std::filesystem::path& out);

struct LinuxMutantResult : MutantKill {
  const LinuxMutantSpec* spec = nullptr;
  std::string applied{};  // the versions of the edit applied; empty when run unmutated
  std::optional<Trace> trace{};  // the kill's minimized trace, as `check` writes it
};

// Builds the mutant from `tree` and runs its campaign (isolated: a mutant may crash or hang).
// With `mutate` false, the same configuration on the unmutated tree: the control, which must
// not be killed. Throws LinuxMutantError, and LinuxBuildError when the mutant does not compile.
LinuxMutantResult run_linux_mutant(const LinuxMutantSpec& spec, const std::filesystem::path& tree,
                                   double seconds, uint64_t seed, bool mutate = true);

}  // namespace iommu::conform
