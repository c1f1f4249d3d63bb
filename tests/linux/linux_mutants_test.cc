// The kernel bug zoo (conform/linux_mutants.h) on real trees (IOMMUCHECK_KERNEL_6_12 and _SID,
// from the environment or CMake's cache; skipped without them): a few chosen mutants die
// quickly, the unmutated tree under the same configurations is not killed, and a snippet that
// is not in the tree is an error naming the mutant, the file and the versions it is written for.
#include "conform/linux_mutants.h"
#include "tests/linux/kernel_trees.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conform/campaign.h"
#include "conform/linux_build.h"
#include "conform/plugin.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

const LinuxMutantSpec& spec(std::string_view name) {
  for (const LinuxMutantSpec& s : linux_mutant_specs())
    if (s.name == name) return s;
  ADD_FAILURE() << "no mutant " << name;
  return linux_mutant_specs().front();
}

// One of each kind: a historical bug, a missing sync, a missing barrier (coherent walk), a
// missing flush, a missing WARN check (hostile).
constexpr const char* kChosen[] = {"concat-pgd-entries-left", "no-sync-leaf", "no-map-wmb",
                                   "no-flush-walk", "no-ias-check"};

class LinuxMutantsQuick : public testing::TestWithParam<const char*> {};

TEST_P(LinuxMutantsQuick, ChosenMutantsAreKilledAndTheTreeIsNot) {
  const std::string version = GetParam();
  REQUIRE_KERNEL_VERSION(dir, version);
  for (const char* name : kChosen) {
    const LinuxMutantResult r = run_linux_mutant(spec(name), dir, 3, 1);
    EXPECT_TRUE(r.killed) << name << " survived " << r.seconds << " s";
    EXPECT_THAT(r.applied, HasSubstr(version == "6_12" ? "6.12" : "7.2")) << name;
    const LinuxMutantResult control = run_linux_mutant(spec(name), dir, 3, 1, false);
    EXPECT_FALSE(control.killed) << name << " unmutated: " << control.violation;
    EXPECT_GT(control.ops, 0u) << name;
  }
}
INSTANTIATE_TEST_SUITE_P(Linux, LinuxMutantsQuick, testing::Values("6_12", "SID"));

// A 4K map and a device read of it on `tree`'s arm-64-lpae-s1-4k-coherent: the violation, if any.
std::optional<Violation> map_then_read(const fs::path& tree,
                                       const LinuxBuildOptions& options = {}) {
  const LinuxBuild build = build_linux_drivers(tree, options);
  auto plugin =
      std::make_shared<const Plugin>(build.plugins.at("arm-64-lpae-s1-4k-coherent").string());
  const DriverSource src{plugin->info(), [plugin](DriverEnv& env) { return plugin->create(env); }};
  return replay_ops(src, parse_trace("map iova=0x40000000 paddr=0x80000000 size=4K prot=rw\n"
                                     "read iova=0x40000000\n")
                             .ops);
}

// What the device sees of a map under a coherent walk (docs/LINUX.md, "The shim"): a store
// reaches it at a barrier, not when the op returns. Map without its final wmb() (no-map-wmb)
// leaves the new leaf pending, so the device faults where the reference says mapped; the tree
// as it is maps visibly; and a shim built to publish at op return instead of at barriers
// (-DLXSHIM_BROKEN_PUBLISH_AT_RETURN, test-only) lets the mutant survive.
TEST(LinuxMutants, NoMapWmbIsCaughtByTheBarrierModelOnly) {
  REQUIRE_KERNEL(dir);
  const fs::path mutated = fs::path(testing::TempDir()) / "kmutant-no-map-wmb";
  fs::remove_all(mutated);
  apply_linux_mutant(spec("no-map-wmb"), dir, mutated);
  const auto caught = map_then_read(mutated);
  ASSERT_TRUE(caught.has_value());
  EXPECT_EQ(caught->op_index, 0u) << caught->message();
  EXPECT_EQ(caught->check, "translation") << caught->message();
  const auto unmutated = map_then_read(dir);
  EXPECT_FALSE(unmutated.has_value()) << unmutated->message();
  LinuxBuildOptions broken;
  broken.extra_cflags = {"-DLXSHIM_BROKEN_PUBLISH_AT_RETURN"};
  broken.cache_dir = fs::path(testing::TempDir()) / "iommucheck-broken-shim";
  const auto missed = map_then_read(mutated, broken);
  EXPECT_FALSE(missed.has_value()) << missed->message();
  fs::remove_all(mutated);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Barriers that do not order stores for the device publish nothing (docs/LINUX.md, "The
// shim"): map's wmb() replaced by smp_wmb(), smp_mb() and dma_wmb() (CPU-to-CPU ordering, and
// ordering among coherent stores without completing them) leaves the new leaf pending.
TEST(LinuxMutants, CpuAndDmaOrderingBarriersDoNotPublish) {
  REQUIRE_KERNEL(dir);
  const fs::path tree = fs::path(testing::TempDir()) / "kmutant-smp-wmb";
  fs::remove_all(tree);
  apply_linux_mutant(spec("no-map-wmb"), dir, tree);
  const fs::path arm = tree / "drivers/iommu/io-pgtable-arm.c";
  std::string text = read_text(arm);
  const std::string end_of_comment =
      "a chance for anything to kick off a table walk for the new iova.\n\t */";
  ASSERT_NE(text.find(end_of_comment), std::string::npos);
  text.insert(text.find(end_of_comment) + end_of_comment.size(),
              "\n\tsmp_wmb();\n\tsmp_mb();\n\tdma_wmb();");
  std::ofstream(arm, std::ios::trunc) << text;
  const auto v = map_then_read(tree);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->check, "translation") << v->message();
  fs::remove_all(tree);
}

// A 6.12-only mutant on a tree without its snippet (7.2 refuses partial unmaps, so has no
// split to lose): the message says where it looked and which tree it is written for.
TEST(LinuxMutants, MissingSnippetNamesTheFileAndTheVersions) {
  REQUIRE_KERNEL_VERSION(dir, "6_12");
  const fs::path work = fs::path(testing::TempDir()) / "kmutant-missing";
  const fs::path edited = work / "tree";
  fs::remove_all(work);
  // The 6.12 tree with the split's table install written differently.
  apply_linux_mutant(spec("writable-read-only"), dir, edited);
  const fs::path arm = edited / "drivers/iommu/io-pgtable-arm.c";
  std::string text = read_text(arm);
  const std::string install = "pte = arm_lpae_install_table(tablep, ptep, blk_pte, data);";
  ASSERT_NE(text.find(install), std::string::npos);
  text.replace(text.find(install), install.size(),
               "pte = arm_lpae_install_table(tablep, ptep, blk_pte,  data);");
  std::ofstream(arm, std::ios::trunc) << text;
  try {
    apply_linux_mutant(spec("split-lost"), edited, work / "out");
    FAIL() << "applied a mutant whose snippet is not in the tree";
  } catch (const LinuxMutantError& e) {
    EXPECT_THAT(e.what(), HasSubstr("mutant split-lost: its snippet is not in"));
    EXPECT_THAT(e.what(), HasSubstr("drivers/iommu/io-pgtable-arm.c"));
    EXPECT_THAT(e.what(), HasSubstr("written for Linux 6.12"));
  }
  // A snippet there twice is as clear.
  text = read_text(arm);
  text += "\n/* pte |= ARM_LPAE_PTE_AP_RDONLY; */\n/* pte |= ARM_LPAE_PTE_AP_RDONLY; */\n";
  std::ofstream(arm, std::ios::trunc) << text;
  EXPECT_THROW(
      {
        try {
          apply_linux_mutant(spec("writable-read-only"), edited, work / "out2");
        } catch (const LinuxMutantError& e) {
          EXPECT_THAT(e.what(), HasSubstr("is in"));
          EXPECT_THAT(e.what(), HasSubstr("times; it must be there once"));
          throw;
        }
      },
      LinuxMutantError);
  fs::remove_all(work);
}

// Every mutant applies to the trees it says it is written for, and to no other.
TEST(LinuxMutants, EveryMutantAppliesWhereItSays) {
  for (const char* version : {"6_12", "SID"}) {
    const std::string dir = testing_linux::kernel_tree(version);
    if (dir.empty() || !fs::is_directory(dir)) continue;
    const std::string v = std::string(version) == "6_12" ? "6.12" : "7.2";
    for (const LinuxMutantSpec& s : linux_mutant_specs()) {
      bool written_for = false;
      for (const LinuxEdit& e : s.edits)
        written_for |= !e.from.empty() && std::string(e.versions).find(v) != std::string::npos;
      const fs::path out = fs::path(testing::TempDir()) / "kmutant-each";
      fs::remove_all(out);
      if (written_for)
        EXPECT_NO_THROW(apply_linux_mutant(s, dir, out)) << s.name << " on " << v;
      else
        EXPECT_THROW(apply_linux_mutant(s, dir, out), LinuxMutantError) << s.name << " on " << v;
      fs::remove_all(out);
    }
  }
}

}  // namespace
}  // namespace iommu::conform
