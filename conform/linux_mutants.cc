#include "conform/linux_mutants.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "conform/linux_build.h"
#include "conform/linux_driver.h"

namespace iommu::conform {
namespace fs = std::filesystem;
namespace {

constexpr auto kHostile = CallerMode::kHostile;
constexpr auto kNoRange = IommuKind::kSmmuV3NoRange;
constexpr const char* kArm = "drivers/iommu/io-pgtable-arm.c";
constexpr const char* kV7s = "drivers/iommu/io-pgtable-arm-v7s.c";
constexpr const char* kDart = "drivers/iommu/io-pgtable-dart.c";
constexpr const char* kBoth = "6.12 7.2";

// The snippets are the trees' exact text (tabs included); docs/LINUX.md has the table of what
// each does to 6.12 and 7.2.
constexpr LinuxMutantSpec kSpecs[] = {
    {"concat-pgd-entries-left",
     "BUGS 1 (d71fa842d33c): entries left in a concatenated stage-2 PGD counted from the whole "
     "PGD's index",
     kArm,
     {{kBoth, "return ptes_per_table - (i & (ptes_per_table - 1));", "return ptes_per_table - i;"}},
     "arm-32-lpae-s2"},
    {"iova-to-phys-granule-mask",
     "BUGS 2: iova_to_phys masks a block's offset with the granule",
     kArm,
     {{"6.12", "iova &= (ARM_LPAE_BLOCK_SIZE(lvl, data) - 1);",
       "iova &= (ARM_LPAE_GRANULE(data) - 1);"},
      {"7.2", "iova &= (ARM_LPAE_BLOCK_SIZE(d.lvl, data) - 1);",
       "iova &= (ARM_LPAE_GRANULE(data) - 1);"}},
     "arm-64-lpae-s1-4k"},
    {"dart-table-paddr-raw",
     "BUGS 3 (9abe2ac83485): a table descriptor written without the paddr-to-PTE conversion",
     kDart,
     {{kBoth, "new = paddr_to_iopte(__pa(table), data) | APPLE_DART_PTE_VALID;",
       "new = __pa(table) | APPLE_DART_PTE_VALID;"}},
     "apple-dart2"},
    {"split-lost",
     "BUGS 4: a block split on unmap that never installs its table, reported as done",
     kArm,
     {{"6.12", "pte = arm_lpae_install_table(tablep, ptep, blk_pte, data);", "pte = blk_pte;"}},
     "arm-64-lpae-s1-4k",
     CallerMode::kContract,
     kNoRange,
     false},
    {"unmap-empty-errno",
     "BUGS 5: unmap of an empty entry returns -EINVAL through size_t",
     kArm,
     {{"6.12", "if (WARN_ON(!pte))\n\t\treturn 0;", "if (WARN_ON(!pte))\n\t\treturn -EINVAL;"},
      {"7.2",
       "if (!pte) {\n\t\tWARN_ON(!(data->iop.cfg.quirks & IO_PGTABLE_QUIRK_NO_WARN));\n\t\treturn "
       "0;",
       "if (!pte) {\n\t\tWARN_ON(!(data->iop.cfg.quirks & IO_PGTABLE_QUIRK_NO_WARN));\n\t\treturn "
       "-EINVAL;"}},
     "arm-64-lpae-s1-4k",
     kHostile,
     kNoRange,
     false},
    {"no-sync-leaf",
     "a missing DMA sync: leaf PTEs written but never synced to the device",
     kArm,
     {{kBoth, "ptep[i] = pte | paddr_to_iopte(paddr + i * sz, data);\n\n\tif (!cfg->coherent_walk)",
       "ptep[i] = pte | paddr_to_iopte(paddr + i * sz, data);\n\n\tif (0)"}},
     "arm-64-lpae-s1-4k"},
    {"no-sync-clear",
     "a missing DMA sync: cleared PTEs never synced, the device still walks the old leaf",
     kArm,
     {{kBoth, "if (!cfg->coherent_walk && num_entries)", "if (0 && num_entries)"}},
     "arm-64-lpae-s1-64k"},
    {"no-sync-table",
     "a missing DMA sync: a new table's descriptor never synced",
     kArm,
     {{kBoth,
       "/* Even if it's not ours, there's no point waiting; just kick it */\n\t"
       "__arm_lpae_sync_pte(ptep, 1, cfg);",
       "/* Even if it's not ours, there's no point waiting; just kick it */"}},
     "arm-32-lpae-s1"},
    {"no-map-wmb",
     "a missing wmb() at the end of map: under a coherent walk the new PTEs are still pending "
     "when map returns, so the device cannot reach the new mapping",
     kArm,
     {{kBoth, "a chance for anything to kick off a table walk for the new iova.\n\t */\n\twmb();",
       "a chance for anything to kick off a table walk for the new iova.\n\t */"}},
     "arm-64-lpae-s1-4k-coherent"},
    {"skip-last-add-page",
     "tlb_add_page skipped for the last leaf of a run",
     kArm,
     {{kBoth, "for (int j = 0; j < i; j++)", "for (int j = 0; j < i - 1; j++)"}},
     "arm-64-lpae-s1-16k"},
    {"no-flush-walk",
     "a table freed without tlb_flush_walk",
     kArm,
     {{kBoth, "io_pgtable_tlb_flush_walk(iop, iova + i * size, size,",
       "if (0) io_pgtable_tlb_flush_walk(iop, iova + i * size, size,"}},
     "arm-64-lpae-s1-4k"},
    {"flush-walk-granule",
     "a walk flush for one granule instead of the freed table's whole range",
     kArm,
     {{kBoth, "io_pgtable_tlb_flush_walk(iop, iova + i * size, size,",
       "io_pgtable_tlb_flush_walk(iop, iova + i * size, ARM_LPAE_GRANULE(data),"}},
     "arm-64-lpae-s2-4k"},
    {"add-page-granule-ttl",
     "6833b8f2e199 class: a block's invalidation sent with the granule's size, so a TTL hint of "
     "the last level",
     kArm,
     {{kBoth, "io_pgtable_tlb_add_page(iop, gather, iova + j * size, size);",
       "io_pgtable_tlb_add_page(iop, gather, iova + j * size, ARM_LPAE_GRANULE(data));"}},
     "arm-64-lpae-s1-4k",
     CallerMode::kContract,
     IommuKind::kSmmuV3},
    {"max-entries-off-by-one",
     "off by one in the entries left in a table: a run crossing a table boundary writes one past",
     kArm,
     {{kBoth, "return ptes_per_table - (i & (ptes_per_table - 1));",
       "return ptes_per_table + 1 - (i & (ptes_per_table - 1));"}},
     "arm-64-lpae-s1-4k"},
    {"writable-read-only",
     "a read-only mapping written without AP[2]",
     kArm,
     {{kBoth, "pte |= ARM_LPAE_PTE_AP_RDONLY;", "pte |= 0;"}},
     "arm-64-lpae-s1-4k"},
    {"no-eexist",
     "the -EEXIST check removed: a live leaf overwritten",
     kArm,
     {{kBoth, "if (iopte_leaf(ptep[i], lvl, data->iop.fmt)) {", "if (0) {"}},
     "arm-64-lpae-s1-4k",
     kHostile,
     kNoRange,
     false},
    {"no-ias-check",
     "a missing WARN check: map no longer refuses an iova beyond the ias",
     kArm,
     {{kBoth, "if (WARN_ON(iaext || paddr >> cfg->oas))", "if (WARN_ON(paddr >> cfg->oas))"}},
     "arm-64-lpae-s1-4k",
     kHostile,
     kNoRange,
     false},
    {"v7s-single-replica",
     "a v7s 64K/16M leaf written as 1 entry instead of 16",
     kV7s,
     {{kBoth, "__arm_v7s_set_pte(ptep, pte, num_entries, cfg);\n\treturn 0;",
       "__arm_v7s_set_pte(ptep, pte, 1, cfg);\n\treturn 0;"}},
     "arm-v7s"},
    {"v7s-no-sync-table",
     "a missing DMA sync: a v7s level-2 table's descriptor never synced",
     kV7s,
     {{kBoth, "old = cmpxchg_relaxed(ptep, curr, new);\n\t__arm_v7s_pte_sync(ptep, 1, cfg);",
       "old = cmpxchg_relaxed(ptep, curr, new);"}},
     "arm-v7s"},
    {"v7s-writable-read-only",
     "a read-only v7s mapping written without AP[2]",
     kV7s,
     {{kBoth, "pte |= ARM_V7S_PTE_AP_RDONLY;", "pte |= 0;"}},
     "arm-v7s"},
    {"dart-no-map-wmb",
     "a missing wmb() at the end of DART's map: its coherent walk cannot reach the new mapping",
     kDart,
     {{kBoth, "a chance for anything to kick off a table walk for the new iova.\n\t */\n\twmb();",
       "a chance for anything to kick off a table walk for the new iova.\n\t */"}},
     "apple-dart"},
    {"dart-writable-read-only",
     "a read-only DART mapping written without NO_WRITE",
     kDart,
     {{kBoth, "pte |= APPLE_DART1_PTE_PROT_NO_WRITE;", "pte |= 0;"}},
     "apple-dart"},
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// A private directory for one mutated copy, removed when done.
struct TempTree {
  fs::path dir;
  TempTree() {
    std::string pattern = (fs::temp_directory_path() / "iommucheck-kmutant-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
      throw LinuxMutantError("cannot create a temporary directory for the mutated tree");
    dir = pattern;
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

std::span<const LinuxMutantSpec> linux_mutant_specs() { return kSpecs; }

std::string apply_linux_mutant(const LinuxMutantSpec& spec, const fs::path& tree,
                               const fs::path& out) {
  std::vector<std::string> files;
  try {
    files = linux_source_files(tree);
  } catch (const LinuxBuildError& e) {
    throw LinuxMutantError(fmt::format("mutant {}: {}", spec.name, e.what()));
  }
  for (const auto& rel : files) {
    fs::create_directories((out / rel).parent_path());
    fs::copy_file(tree / rel, out / rel, fs::copy_options::overwrite_existing);
  }
  const fs::path target = out / spec.file;
  std::string text = read_text(target);
  std::string written_for;
  for (const LinuxEdit& edit : spec.edits) {
    if (edit.from.empty()) continue;
    written_for += (written_for.empty() ? "" : " ") + std::string(edit.versions);
    const size_t n = count(text, edit.from);
    if (n > 1)
      throw LinuxMutantError(
          fmt::format("mutant {}: its snippet `{}` is in {} {} times; it must "
                      "be there once",
                      spec.name, first_line(edit.from), (tree / spec.file).string(), n));
    if (n == 0) continue;
    text.replace(text.find(edit.from), edit.from.size(), edit.to);
    std::ofstream(target, std::ios::binary | std::ios::trunc) << text;
    return std::string(edit.versions);
  }
  throw LinuxMutantError(fmt::format(
      "mutant {}: its snippet is not in {} (the mutant is written for Linux {}); first line "
      "sought: `{}`",
      spec.name, (tree / spec.file).string(), written_for, first_line(spec.edits[0].from)));
}

LinuxMutantResult run_linux_mutant(const LinuxMutantSpec& spec, const fs::path& tree,
                                   double seconds, uint64_t seed, bool mutate) {
  LinuxMutantResult out;
  out.spec = &spec;
  DriverSource src;
  if (mutate) {
    const TempTree copy;
    out.applied = apply_linux_mutant(spec, tree, copy.dir);
    src = linux_driver_source(spec.format, copy.dir.string());
  } else {
    src = linux_driver_source(spec.format, tree.string());
  }
  if (spec.whole_leaf_unmaps) src.info.config.partial_unmap = ref::PartialUnmap::kRefuse;
  const CampaignReport r = run_campaign(src, {.seed = seed,
                                              .seconds = seconds,
                                              .mode = spec.mode,
                                              .check = {.iommu = spec.iommu},
                                              .minimize_tests = 300,
                                              .isolate = true,
                                              .call_timeout = 1});
  static_cast<MutantKill&>(out) = mutant_kill(r);
  if (r.finding)
    out.trace = Trace{"linux:" + std::string(spec.format), src.info.config, spec.iommu, seed,
                      r.finding->ops};
  return out;
}

}  // namespace iommu::conform
