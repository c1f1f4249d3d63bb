#include "conform/kunit_export.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <variant>
#include <vector>

#include "base/bits.h"
#include "base/prot.h"
#include "conform/core_ops.h"
#include "conform/kunit_prelude.h"
#include "conform/overloaded.h"
#include "impl/domain.h"

namespace iommu::conform {
namespace {

// The kernel's enum io_pgtable_fmt of a linux: variant (conform/linux/variants.c), by the
// prefix of its name; DART2 before DART.
struct KernelFormat {
  std::string_view prefix;
  std::string_view fmt;
  bool custom_allocator;  // IO_PGTABLE_CAP_CUSTOM_ALLOCATOR: the test sees table frees
};
constexpr KernelFormat kFormats[] = {
    {"arm-64-lpae-s1", "ARM_64_LPAE_S1", true}, {"arm-64-lpae-s2", "ARM_64_LPAE_S2", true},
    {"arm-32-lpae-s1", "ARM_32_LPAE_S1", true}, {"arm-32-lpae-s2", "ARM_32_LPAE_S2", true},
    {"arm-mali-lpae", "ARM_MALI_LPAE", true},   {"arm-v7s", "ARM_V7S", false},
    {"apple-dart2", "APPLE_DART2", false},      {"apple-dart", "APPLE_DART", false},
};

// The words of a variant name after its format: the quirk each sets, or why the export cannot
// serve it. Granules, address sizes, -coherent and -cfgalloc set nothing: the test takes the
// page sizes and address sizes from the trace's config, walks coherently and allocates its own.
struct VariantWord {
  std::string_view word;
  std::string_view quirk;        // empty: none
  std::string_view unsupported;  // empty: supported
};
constexpr VariantWord kWords[] = {
    {"4k", "", ""},
    {"16k", "", ""},
    {"64k", "", ""},
    {"coherent", "", ""},
    {"cfgalloc", "", ""},
    {"ns", "IO_PGTABLE_QUIRK_ARM_NS", ""},
    {"hd", "IO_PGTABLE_QUIRK_ARM_HD", ""},
    {"nowarn", "IO_PGTABLE_QUIRK_NO_WARN", ""},
    {"fwb", "IO_PGTABLE_QUIRK_ARM_S2FWB", ""},
    {"wbwa", "",
     "IO_PGTABLE_QUIRK_ARM_OUTER_WBWA needs a non-coherent walk, and the exported test walks "
     "coherently"},
    {"ttbr1", "",
     "the trace's iovas count from 0 where Linux's TTBR1 iovas are sign-extended, and the export "
     "does not translate them"},
    {"mtk", "", "MediaTek's extended PA (MTK_EXT) is not exported"},
    {"ttbr", "", "MediaTek's extended PA (MTK_EXT) is not exported"},
};

struct Target {
  const KernelFormat* format = nullptr;
  std::vector<std::string_view> quirks;
};

Target target_of(std::string_view variant) {
  Target t;
  for (const KernelFormat& f : kFormats) {
    if (variant.substr(0, f.prefix.size()) != f.prefix) continue;
    const std::string_view rest = variant.substr(f.prefix.size());
    if (!rest.empty() && rest.front() != '-') continue;
    t.format = &f;
    std::istringstream words{std::string(rest)};
    for (std::string word; std::getline(words, word, '-');) {
      if (word.empty() || word.starts_with("ias") || word.starts_with("oas")) continue;
      auto it = std::find_if(std::begin(kWords), std::end(kWords),
                             [&](const VariantWord& w) { return w.word == word; });
      if (it == std::end(kWords))
        throw KunitExportError(fmt::format("linux:{}: not a variant the export knows", variant));
      if (!it->unsupported.empty())
        throw KunitExportError(
            fmt::format("linux:{} is not supported: {}", variant, it->unsupported));
      if (!it->quirk.empty()) t.quirks.push_back(it->quirk);
    }
    return t;
  }
  throw KunitExportError(fmt::format("linux:{}: not a format the export knows", variant));
}

// `name` with every character but letters, digits and those of `keep` written '_'.
std::string sanitized(std::string_view name, std::string_view keep = "") {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) || keep.find(c) != keep.npos ? c : '_';
  return out;
}

std::string c_name(std::string_view name) { return sanitized(name); }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string prot_c(int prot) {
  static constexpr std::pair<int, const char*> kBits[] = {
      {IOMMU_READ, "IOMMU_READ"},     {IOMMU_WRITE, "IOMMU_WRITE"}, {IOMMU_CACHE, "IOMMU_CACHE"},
      {IOMMU_NOEXEC, "IOMMU_NOEXEC"}, {IOMMU_MMIO, "IOMMU_MMIO"},   {IOMMU_PRIV, "IOMMU_PRIV"}};
  std::string out;
  for (const auto& [bit, name] : kBits)
    if (prot & bit) out += (out.empty() ? "" : " | ") + std::string(name);
  return out.empty() ? "0" : out;
}

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

// The iovas checked with iova_to_phys after an op on [first, last]: its first and last page,
// the pages on either side, where each of the reference's runs in it begins and ends, and the
// pages on either side of each boundary of a larger page size in it (where a table ends), at
// the checker's offset into the page (conform/checker_probe.cc); none past the ias.
std::vector<uint64_t> probe_iovas(const ref::RefPgtable& ref, uint64_t first, uint64_t last,
                                  size_t op_number) {
  constexpr size_t kMaxRuns = 16;
  const ref::DomainConfig& cfg = ref.config();
  const uint64_t min = cfg.min_pgsize(), top = low_mask(cfg.ias);
  if (first > top) return {};
  first &= ~(min - 1);
  last = std::min(last, top) & ~(min - 1);
  std::set<uint64_t> pages = {first, last};
  if (first >= min) pages.insert(first - min);
  if (last < top - (min - 1)) pages.insert(last + min);
  size_t runs = 0;
  for (const ref::LeafRun& run : ref.leaves().runs_in(first, last)) {
    if (runs++ == kMaxRuns) break;
    if (run.iova > first) pages.insert(run.iova);
    if (run.last() < last) pages.insert(run.last() + 1);
    pages.insert(std::max(run.iova, first));
    pages.insert(std::min(run.last(), last) & ~(min - 1));
  }
  // Where a larger page size begins, a table ends: the pages on either side of each.
  size_t boundaries = 0;
  for (uint64_t size = min << 1; size != 0 && boundaries < kMaxRuns; size <<= 1) {
    if (!(cfg.pgsize_bitmap & size)) continue;
    for (uint64_t b = (first | (size - 1)) + 1; b != 0 && b <= last && boundaries < kMaxRuns;
         b += size, boundaries++) {
      pages.insert(b - min);
      pages.insert(b);
    }
  }
  const uint64_t offset = (op_number * 0x48) & (min - 1) & ~uint64_t{7};
  std::vector<uint64_t> out;
  for (uint64_t p : pages) out.push_back(p + offset);
  return out;
}

// The range an op changes, as the checker probes it; nullopt for ops without one.
std::optional<std::pair<uint64_t, uint64_t>> changed_range(const Op& op, int64_t ret) {
  if (std::holds_alternative<IotlbSyncMapOp>(op) || std::holds_alternative<IovaToPhysOp>(op))
    return std::nullopt;
  return op_range(op, ret);
}

// The one iova an op looks at: a device access or iova_to_phys, checked there exactly.
std::optional<uint64_t> point_of(const Op& op) {
  if (auto* o = std::get_if<ReadOp>(&op)) return o->iova;
  if (auto* o = std::get_if<WriteOp>(&op)) return o->iova;
  if (auto* o = std::get_if<IovaToPhysOp>(&op)) return o->iova;
  return std::nullopt;
}

// map_sg's runs as the core merges them (impl::Domain::map_sg): a zero length ends the list.
std::string sg_runs(const MapSgOp& o) {
  std::vector<std::string> runs;
  uint64_t start = 0, len = 0;
  auto close = [&] {
    if (len) runs.push_back(fmt::format("{{ {}, {} }}", hex(start), hex(len)));
    len = 0;
  };
  for (const ref::Segment& sg : o.segs) {
    if (len != 0 && sg.paddr != start + len) close();
    if (sg.length == 0) {
      close();
      runs.push_back("{ 0, 0 }");
      break;
    }
    if (len == 0) start = sg.paddr;
    len += sg.length;
  }
  close();
  return fmt::format("{}", fmt::join(runs, ", "));
}

// The reference as a Linux page table answers: unmap_pages takes every leading table slot that
// holds mappings whole, as LPAE frees a table slot, where the contract allows it (the checker's
// reference follows such a choice, RefDomain::follow); map_pages is the reference's own.
class LinuxLikeRef : public impl::IoPgtableOps, public impl::IotlbOps {
 public:
  explicit LinuxLikeRef(const ref::DomainConfig& cfg) : pgtable_(cfg) {}
  const ref::RefPgtable& pgtable() const { return pgtable_; }

  // The entries of the largest table of any format here (64K granule, 8-byte descriptors).
  static constexpr uint64_t kMaxSlots = 8192;

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override {
    const ref::MapPagesResult r = pgtable_.map_pages({iova, paddr, pgsize, pgcount, prot});
    *mapped += r.mapped;
    return r.ret;
  }
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather*) override {
    const ref::UnmapPagesCall call{iova, pgsize, pgcount};
    uint64_t n = pgtable_.expected_unmap_pages(call);
    // One slot more at a time: Linux stops at the first empty slot, and within one table
    // (at most kMaxSlots entries).
    if (pgsize != 0) {
      const uint64_t last = std::min({pgcount, ~uint64_t{0} / pgsize, n / pgsize + kMaxSlots});
      for (uint64_t k = n / pgsize + 1; k <= last && !pgtable_.check_unmap_pages(call, k * pgsize);
           k++)
        n = k * pgsize;
    }
    pgtable_.apply_unmap_pages(call, n);
    return n;
  }
  uint64_t iova_to_phys(uint64_t iova) override { return pgtable_.iova_to_phys(iova).value_or(0); }

  void iotlb_sync(impl::IotlbGather&) override {}
  void flush_iotlb_all() override {}
  void iotlb_sync_map(uint64_t, uint64_t) override {}
  bool caches_non_present() const override { return false; }

 private:
  ref::RefPgtable pgtable_;
};

class Writer {
 public:
  explicit Writer(const ref::DomainConfig& cfg) : ref_(cfg), domain_(ref_, ref_, cfg) {}

  std::string take() { return std::move(out_); }

  void op(size_t number, const Op& op) {
    number_ = number;
    const std::string text = format_op(op);
    line("");
    line(fmt::format("\tkt_op(ctx, {}, \"{}\");", number, text));
    const auto* map_pages = std::get_if<MapPagesOp>(&op);
    std::optional<ref::MapPagesResult> want_pages;
    if (map_pages) {
      want_pages =
          ref_.pgtable().expected_map_pages({map_pages->iova, map_pages->paddr, map_pages->pgsize,
                                             map_pages->pgcount, map_pages->prot});
      if (want_pages->ret != 0 && want_pages->mapped != 0)
        throw KunitExportError(fmt::format(
            "op {} `{}`: map_pages fails after mapping part of its range ({:#x} bytes in the "
            "reference); how much a driver maps before such an error is its choice, so a test "
            "cannot know what to expect",
            number, text, want_pages->mapped));
    }
    const int64_t want = apply(op);
    std::visit(Overloaded{
                   [&](const MapOp& o) { map(o.iova, o.paddr, o.size, o.prot, want); },
                   [&](const MapNosyncOp& o) { map(o.iova, o.paddr, o.size, o.prot, want); },
                   [&](const UnmapOp& o) { unmap(o.iova, o.size, want); },
                   [&](const UnmapFastOp& o) { unmap(o.iova, o.size, want); },
                   [&](const MapSgOp& o) {
                     line(fmt::format("\t{{\n\t\tstatic const struct kt_run runs[] = {{ {} }};\n",
                                      sg_runs(o)));
                     line(
                         fmt::format("\t\tKUNIT_ASSERT_EQ_MSG(test, kt_map_sg(ctx, {}, runs, "
                                     "ARRAY_SIZE(runs), {}), {}L, \"op {}\");\n\t}}",
                                     hex(o.iova), prot_c(o.prot), want, number));
                   },
                   [&](const MapPagesOp& o) {
                     line(
                         fmt::format("\tKUNIT_ASSERT_EQ_MSG(test, kt_map_pages_op(ctx, {}, {}, {}, "
                                     "{}, {}, &mapped), {}, \"op {}\");",
                                     hex(o.iova), hex(o.paddr), hex(o.pgsize), o.pgcount,
                                     prot_c(o.prot), want_pages->ret, number));
                     line(fmt::format("\tKUNIT_ASSERT_EQ_MSG(test, mapped, (size_t){}, \"op {}\");",
                                      hex(want_pages->mapped), number));
                   },
                   [&](const UnmapPagesOp& o) {
                     line(
                         fmt::format("\tKUNIT_ASSERT_EQ_MSG(test, kt_unmap_pages_op(ctx, {}, {}, "
                                     "{}), (size_t){}, \"op {}\");",
                                     hex(o.iova), hex(o.pgsize), o.pgcount, hex(want), number));
                   },
                   [&](const IotlbSyncMapOp&) { nothing(); },
                   [&](const IotlbSyncOp&) { nothing(); },
                   [&](const FlushIotlbAllOp&) { nothing(); },
                   [&](const ReadOp&) { device_access(); },
                   [&](const WriteOp&) { device_access(); },
                   [&](const IovaToPhysOp&) {},
                   [&](const FailAllocOp&) {
                     throw KunitExportError(fmt::format(
                         "op {} `{}`: a test cannot make the kernel's nth table allocation fail",
                         number, text));
                   },
               },
               op);
    if (auto point = point_of(op)) {
      if (*point <= low_mask(ref_.pgtable().config().ias))
        line(fmt::format("\tkt_expect_phys(ctx, {}, {});", hex(*point),
                         hex(ref_.iova_to_phys(*point))));
    } else if (auto range = changed_range(op, want)) {
      for (uint64_t iova : probe_iovas(ref_.pgtable(), range->first, range->second, number))
        line(
            fmt::format("\tkt_expect_phys(ctx, {}, {});", hex(iova), hex(ref_.iova_to_phys(iova))));
    }
  }

 private:
  void line(const std::string& s) { out_ += s + "\n"; }
  void map(uint64_t iova, uint64_t paddr, uint64_t size, int prot, int64_t want) {
    line(fmt::format("\tKUNIT_ASSERT_EQ_MSG(test, kt_map(ctx, {}, {}, {}, {}), {}, \"op {}\");",
                     hex(iova), hex(paddr), hex(size), prot_c(prot), want, number_));
  }
  void unmap(uint64_t iova, uint64_t size, int64_t want) {
    line(fmt::format("\tKUNIT_ASSERT_EQ_MSG(test, kt_unmap(ctx, {}, {}), (size_t){}, \"op {}\");",
                     hex(iova), hex(size), hex(static_cast<uint64_t>(want)), number_));
  }
  void nothing() { line("\t/* an IOMMU driver call: nothing of it reaches io_pgtable_ops */"); }
  void device_access() {
    line("\t/* a device access: the test checks the page table's translation there */");
  }
  // What the op returns on the reference, through the core's loops (impl::Domain) where it is
  // a core op; driver-level ops continue past early stops as the test's kt_*_pages_op do.
  int64_t apply(const Op& op) {
    return apply_core_op(
        domain_, op, [&](GatherLabel label) -> impl::IotlbGather& { return gathers_[label]; },
        Overloaded{
            [&](const MapPagesOp& o) -> int64_t {
              uint64_t total = 0;
              int ret = 0;
              while (total < o.pgsize * o.pgcount && ret == 0) {
                uint64_t mapped = 0;
                ret = ref_.map_pages(o.iova + total, o.paddr + total, o.pgsize,
                                     o.pgcount - total / o.pgsize, o.prot, &mapped);
                total += mapped;
              }
              return ret;
            },
            [&](const UnmapPagesOp& o) -> int64_t {
              uint64_t total = 0;
              for (uint64_t n = 1; total < o.pgsize * o.pgcount && n;) {
                n = ref_.unmap_pages(o.iova + total, o.pgsize, o.pgcount - total / o.pgsize,
                                     nullptr);
                total += n;
              }
              return static_cast<int64_t>(total);
            },
            [](const auto&) -> int64_t { return 0; },
        });
  }

  LinuxLikeRef ref_;
  impl::Domain domain_;
  std::map<GatherLabel, impl::IotlbGather> gathers_;
  size_t number_ = 0;
  std::string out_;
};

// Text for inside a C comment: no `*/` to end it early.
std::string comment_safe(std::string_view text) {
  std::string out(text);
  for (size_t at = out.find("*/"); at != std::string::npos; at = out.find("*/", at))
    out[at + 1] = '_';
  return out;
}

// The Kconfig symbol a format's code is built under.
std::string_view kconfig_of(const KernelFormat& f) {
  if (f.fmt == "ARM_V7S") return "IOMMU_IO_PGTABLE_ARMV7S";
  if (f.fmt.starts_with("APPLE_DART")) return "IOMMU_IO_PGTABLE_DART";
  return "IOMMU_IO_PGTABLE_LPAE";
}

// The file's opening comment: where it comes from, what it asserts, how to add it to a tree.
std::string header(const Trace& trace, std::string_view name, std::string_view source,
                   const Target& target) {
  const std::string file = "io-pgtable-iommucheck-" + std::string(name);
  const std::string option = "IOMMU_IO_PGTABLE_ICHECK_" + upper(c_name(name));
  return fmt::format(
      "// SPDX-License-Identifier: GPL-2.0-only\n"
      "/*\n"
      " * iommucheck finding {name} as a KUnit test of io-pgtable's {fmt}, written by\n"
      " * `iommucheck export --kunit` from {source}\n"
      " * (driver {driver}, config {config}).\n"
      " *\n"
      " * It replays the trace's ops through io_pgtable_ops (map, unmap and map_sg through copies\n"
      " * of the loops of iommu_map(), iommu_unmap() and iommu_map_sg()) and asserts what\n"
      " * iommucheck's reference model allows:\n"
      " *  - each op's return value and byte count;\n"
      " *  - no map_pages or unmap_pages call doing more than asked;\n"
      " *  - iova_to_phys at the edges of each op's range, of each mapping in it and of its "
      "tables;\n"
      " *  - every byte an unmap_pages call removed covered by its tlb_add_page and "
      "tlb_flush_walk\n"
      " *    calls;\n"
      "{frees}"
      " * A device access becomes an iova_to_phys check. Not checked: what a device could still\n"
      " * reach through its caches, the DMA syncs and barriers of a non-coherent walk (the table "
      "is\n"
      " * walked coherently, as in the kernel's own KUnit tests), permissions, WARNs.\n"
      " *\n"
      " * To run it in a 64-bit kernel (6.9 or later), copy it to\n"
      " * drivers/iommu/{file}.c, add to drivers/iommu/Kconfig\n"
      " *\n"
      " *\tconfig {option}\n"
      " *\t\ttristate \"iommucheck finding {name}\" if !KUNIT_ALL_TESTS\n"
      " *\t\tdepends on KUNIT && {kconfig}\n"
      " *\t\tdefault KUNIT_ALL_TESTS\n"
      " *\n"
      " * and to drivers/iommu/Makefile\n"
      " *\n"
      " *\tobj-$(CONFIG_{option}) += {file}.o\n"
      " *\n"
      " * then: ./tools/testing/kunit/kunit.py run --arch=arm64 --kconfig_add CONFIG_{kconfig}=y\n"
      " *       --kconfig_add CONFIG_{option}=y 'iommucheck-{name}'\n"
      " */\n",
      fmt::arg("name", name), fmt::arg("fmt", target.format->fmt),
      fmt::arg("source", comment_safe(source)), fmt::arg("driver", trace.driver.value_or("")),
      fmt::arg("config", ref::describe(*trace.config)),
      fmt::arg("frees",
               target.format->custom_allocator
                   ? " *  - no table freed before a tlb_flush_walk, in the call that frees it, as "
                     "large\n"
                     " *    as what the table maps.\n"
                   : " *  (this format allocates its own tables, so their frees are not seen).\n"),
      fmt::arg("file", file), fmt::arg("option", option),
      fmt::arg("kconfig", kconfig_of(*target.format)));
}

}  // namespace

std::string export_kunit(const Trace& trace, std::string_view name, std::string_view source) {
  const std::string driver = trace.driver.value_or("");
  if (!driver.starts_with("linux:"))
    throw KunitExportError(fmt::format(
        "driver '{}' is not a linux: driver; the KUnit export replays Linux's io_pgtable_ops",
        driver.empty() ? "(none)" : driver));
  if (!trace.config)
    throw KunitExportError(
        "the trace has no `config` line, so the page sizes and address "
        "sizes of the page table are unknown");
  if (trace.config->partial_unmap == ref::PartialUnmap::kWhole)
    throw KunitExportError(
        "config partial=whole is no Linux tree's policy (6.12 splits, 7.x "
        "refuses)");
  const Target target = target_of(std::string_view(driver).substr(6));
  const std::string id = c_name(name);
  const std::string shown = sanitized(name, "-_");
  const ref::DomainConfig& cfg = *trace.config;

  std::string out = header(trace, shown, source, target) + "\n" + kKunitPrelude;
  out += fmt::format("\nstatic void iommucheck_{}_replay(struct kunit *test)\n{{\n", id);
  std::string quirks;
  for (std::string_view q : target.quirks) quirks += (quirks.empty() ? "" : " | ") + std::string(q);
  out += fmt::format(
      "\tstruct io_pgtable_cfg cfg = {{\n\t\t.quirks = {},\n\t\t.pgsize_bitmap = {}, /* {} */\n"
      "\t\t.ias = {},\n\t\t.oas = {},\n\t}};\n",
      quirks.empty() ? "0" : quirks, hex(cfg.pgsize_bitmap),
      ref::pgsize_bitmap_name(cfg.pgsize_bitmap), cfg.ias, cfg.oas);
  out += fmt::format("\tstruct kt_ctx *ctx = kt_start(test, {}, &cfg, {}, {});\n",
                     target.format->fmt, target.format->custom_allocator ? "true" : "false",
                     cfg.invalidation == ref::Invalidation::kLazy ? "true" : "false");
  out += "\tsize_t mapped;\n";
  Writer w(cfg);
  for (size_t i = 0; i < trace.ops.size(); i++) w.op(i + 1, trace.ops[i]);
  out += w.take();
  out += "\n\t(void)mapped;\n}\n";
  out += fmt::format(
      "\nstatic struct kunit_case iommucheck_{0}_cases[] = {{\n\tKUNIT_CASE(iommucheck_{0}_replay),"
      "\n\t{{}}\n}};\n\nstatic struct kunit_suite iommucheck_{0}_suite = {{\n\t.name = "
      "\"iommucheck-{1}\",\n\t.test_cases = "
      "iommucheck_{0}_cases,\n}};\nkunit_test_suite(iommucheck_"
      "{0}_suite);\n\nMODULE_DESCRIPTION(\"iommucheck finding {1} as a KUnit test\");\n"
      "MODULE_LICENSE(\"GPL\");\n",
      id, shown);
  return out;
}

}  // namespace iommu::conform
