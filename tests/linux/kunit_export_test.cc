// Exported KUnit tests (conform/kunit_export.h) checked the honest way: a kernel mutant's finding
// (the bug zoo, conform/linux_mutants.h), exported, compiled with the tree under our KUnit
// (conform/linux_build.h, build_linux_kunit), fails on the mutated tree and passes on the tree
// as it is. docs/LINUX.md, "A finding as a KUnit test".
#include "conform/kunit_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "conform/linux_build.h"
#include "conform/linux_mutants.h"
#include "tests/linux/kernel_trees.h"

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

struct KunitRun {
  bool passed = false;
  std::string ktap;  // the runner's output
};

// Builds `c_text` against `tree` under our KUnit and runs it (a crash or a hang fails it).
KunitRun run_kunit(const fs::path& tree, const std::string& c_text, const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path c = dir / "test.c", exe = dir / "test";
  std::ofstream(c) << c_text;
  build_linux_kunit(tree, c, exe);
  KunitRun r;
  FILE* p = popen(("timeout 60 " + exe.string() + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; p && (n = fread(buf, 1, sizeof(buf), p)) > 0;) r.ktap.append(buf, n);
  const int status = p ? pclose(p) : -1;
  r.passed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the exported test: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// A mutant's finding on `tree` exported as a KUnit test, and the mutated copy of the tree.
struct MutantExport {
  std::optional<std::string> test;  // nullopt: not killed, or the export refused (why)
  std::string why;
  fs::path mutated;
};

MutantExport export_mutant(const LinuxMutantSpec& s, const fs::path& tree, const fs::path& dir,
                           double seconds) {
  MutantExport out;
  const LinuxMutantResult r = run_linux_mutant(s, tree, seconds, 1);
  if (!r.trace) {
    out.why = "not killed in " + std::to_string(seconds) + " s";
    return out;
  }
  try {
    out.test = export_kunit(*r.trace, std::string(s.name), "the mutant's finding");
  } catch (const KunitExportError& e) {
    out.why = e.what();
    return out;
  }
  out.mutated = dir / "tree";
  fs::remove_all(out.mutated);
  apply_linux_mutant(s, tree, out.mutated);
  return out;
}

// The test of `name`'s finding fails on its mutant and passes on the tree; returns the export.
MutantExport expect_caught(const std::string& name, const fs::path& tree, const fs::path& dir) {
  MutantExport m = export_mutant(spec(name), tree, dir, 5);
  if (!m.test) {
    ADD_FAILURE() << name << ": " << m.why;
    return m;
  }
  const KunitRun mutated = run_kunit(m.mutated, *m.test, dir / "on-mutant");
  EXPECT_FALSE(mutated.passed) << name << " passed on its mutant:\n" << mutated.ktap;
  EXPECT_THAT(mutated.ktap, HasSubstr("not ok 1 iommucheck-")) << name;
  const KunitRun fixed = run_kunit(tree, *m.test, dir / "on-tree");
  EXPECT_TRUE(fixed.passed) << name << " failed on the tree as it is:\n" << fixed.ktap;
  EXPECT_THAT(fixed.ktap, HasSubstr("\nok 1 iommucheck-")) << name;
  return m;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(testing::TempDir()) / ("kunit-export-" + name);
  fs::remove_all(dir);
  return dir;
}

// A missing tlb_add_page: the unmap coverage assertion fails on the mutant; with that one
// assertion taken out of the exported file, the mutant's test passes, so it is that assertion
// which catches it.
TEST(KunitExport, SkipLastAddPageIsCaughtByTheInvalidationAssertion) {
  REQUIRE_KERNEL(tree);
  const fs::path dir = scratch("skip-last-add-page");
  const MutantExport m = expect_caught("skip-last-add-page", tree, dir);
  if (!m.test) return;
  const std::string blind =
      replaced(*m.test, "kt_covered(ctx, iova, iova + (unmapped - 1))", "true");
  EXPECT_TRUE(run_kunit(m.mutated, blind, dir / "blind").passed);
}

// A table freed without its walk flush: caught by the free-order assertion alone (the coverage
// one taken out: LPAE's tlb_add_page of the table's slot covers the range anyway), and by
// nothing once both are out.
TEST(KunitExport, NoFlushWalkIsCaughtByTheFreeOrderAssertion) {
  REQUIRE_KERNEL(tree);
  const fs::path dir = scratch("no-flush-walk");
  const MutantExport m = expect_caught("no-flush-walk", tree, dir);
  if (!m.test) return;
  const std::string no_cover =
      replaced(*m.test, "kt_covered(ctx, iova, iova + (unmapped - 1))", "true");
  const KunitRun free_only = run_kunit(m.mutated, no_cover, dir / "free-only");
  EXPECT_FALSE(free_only.passed);
  EXPECT_THAT(free_only.ktap, HasSubstr("was freed with no tlb_flush_walk before it"));
  const std::string blind = replaced(no_cover, "ctx->walk_size && ctx->walk_size >= reach", "true");
  EXPECT_TRUE(run_kunit(m.mutated, blind, dir / "blind").passed);
}

// A hand-written trace of each tree's policy (6.12 splits a block on a partial unmap, 7.x
// refuses it) exported and run on that tree: both trees' code builds under the export and
// passes, 7.x's through its own cfg->alloc path.
class KunitExportTree : public testing::TestWithParam<const char*> {};

TEST_P(KunitExportTree, HandWrittenTracePasses) {
  const std::string version = GetParam();
  REQUIRE_KERNEL_VERSION(tree, version);
  const std::string trace = version == "6_12" ? "kunit_split.trace" : "kunit_refuse.trace";
  const std::string test =
      export_kunit(read_trace_file(std::string(IOMMUCHECK_LINUX_TEST_DATA) + "/" + trace),
                   "hand-written", trace);
  const KunitRun r = run_kunit(tree, test, scratch("tree-" + version));
  EXPECT_TRUE(r.passed) << r.ktap;
  EXPECT_THAT(r.ktap, HasSubstr("    ok 1 iommucheck_hand_written_replay"));
}
INSTANTIATE_TEST_SUITE_P(Linux, KunitExportTree, testing::Values("6_12", "SID"));

// The mutants whose findings the exported test catches, on each tree that has them (split-lost
// is 6.12's only), and why the others are not (docs/LINUX.md, "A finding as a KUnit test").
const std::set<std::string> kCovered = {"concat-pgd-entries-left",
                                        "iova-to-phys-granule-mask",
                                        "dart-table-paddr-raw",
                                        "split-lost",
                                        "unmap-empty-errno",
                                        "skip-last-add-page",
                                        "no-flush-walk",
                                        "flush-walk-granule",
                                        "add-page-granule-ttl",
                                        "max-entries-off-by-one",
                                        "no-eexist",
                                        "no-ias-check",
                                        "v7s-single-replica"};

// Every mutant of the zoo (about 3 minutes a tree cold, 40 s warm: disabled here, run by the
// ctests `linux.kunit_export_zoo_*`, label slow): each covered one's test fails on its mutant and
// passes on the tree; each other one's test passes on both (what it cannot see) or its export
// is refused, and the set covered is the documented one.
class KunitExportSlow : public testing::TestWithParam<const char*> {};

TEST_P(KunitExportSlow, DISABLED_EveryCoveredMutantFailsOnItsTreeAndPassesOnTheFixedOne) {
  REQUIRE_KERNEL_VERSION(tree, GetParam());
  std::set<std::string> covered, applicable;
  for (const LinuxMutantSpec& s : linux_mutant_specs()) {
    const std::string name(s.name);
    const fs::path dir = scratch("all-" + name);
    MutantExport m;
    try {
      m = export_mutant(s, tree, dir, 10);
    } catch (const LinuxMutantError& e) {
      continue;  // not written for this tree
    }
    applicable.insert(name);
    if (!m.test) {
      EXPECT_FALSE(kCovered.count(name)) << name << ": " << m.why;
      continue;
    }
    const KunitRun fixed = run_kunit(tree, *m.test, dir / "on-tree");
    EXPECT_TRUE(fixed.passed) << name << " failed on the tree as it is:\n" << fixed.ktap;
    const KunitRun mutated = run_kunit(m.mutated, *m.test, dir / "on-mutant");
    if (!mutated.passed) covered.insert(name);
    std::printf("%-26s %s\n", name.c_str(), mutated.passed ? "passes on the mutant" : "caught");
  }
  std::set<std::string> want;
  for (const std::string& name : kCovered)
    if (applicable.count(name)) want.insert(name);
  EXPECT_EQ(covered, want);
}
INSTANTIATE_TEST_SUITE_P(Linux, KunitExportSlow, testing::Values("6_12", "SID"));

}  // namespace
}  // namespace iommu::conform
