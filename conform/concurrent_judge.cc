// The judgements of a concurrent episode: per op (the thread's probes), per round (the shared
// logs) and at its end (the whole domain, then teardown).
#include <fmt/core.h>

#include "conform/concurrent_episode.h"
#include "conform/judge.h"
#include "conform/trace.h"
#include "hw/dump.h"
#include "hw/walker.h"

namespace iommu::conform {
namespace {

// [first, last] -> paddr, merged where both iova and paddr continue.
struct Segment {
  uint64_t first, last, paddr;
  bool operator==(const Segment&) const = default;
};

void append(std::vector<Segment>& out, Segment s) {
  if (!out.empty() && out.back().last + 1 == s.first &&
      out.back().paddr + (out.back().last - out.back().first) + 1 == s.paddr) {
    out.back().last = s.last;
    return;
  }
  out.push_back(s);
}

std::string describe(const std::vector<Segment>& segs, size_t i) {
  if (i >= segs.size()) return "nothing more";
  return fmt::format("[{:#x}, {:#x}] -> {:#x}", segs[i].first, segs[i].last, segs[i].paddr);
}

}  // namespace

// WARNs and misuse of table memory cannot be told apart by thread: they are the round's.
void Episode::judge_round(uint64_t round) {
  auto found = shared_findings();
  if (!found) return;
  const size_t last = (round + 1) * options_.threads - 1;
  set_violation(Violation{last, format_op(trace_.at(last)), std::move(found->first),
                          fmt::format("in round {} (one of its {} ops): {}", round + 1,
                                      options_.threads, found->second)});
}

// The check and detail of the oldest host error, bad table memory access or WARN not yet
// judged.
std::optional<std::pair<std::string, std::string>> Episode::shared_findings() {
  if (auto errors = env_->host_errors.take(); !errors.empty())
    return std::pair{"memory", errors.front()};
  if (auto bad = mem_.bad_accesses(); bad.size() > bad_seen_) {
    const hw::BadAccess& b = bad[bad_seen_];
    bad_seen_ = bad.size();
    const char* what = b.width == 0 ? "free" : b.write ? "write" : "read";
    const char* state = b.state == hw::PageState::kFreed ? "freed" : "not allocated";
    return std::pair{"memory", fmt::format("{} of {:#x}, which is {}", what, b.paddr, state)};
  }
  if (auto warnings = env_->warnings.take(); !warnings.empty())
    return std::pair{"warn", warnings.front()};
  return std::nullopt;
}

// iova_to_phys at the first, last and one more page of the op's range, all in the thread's own
// stripes, and a cache-less walk where they are mapped, against the thread's reference.
std::optional<std::string> Episode::probe(Worker& w, const Op& op, size_t index) {
  uint64_t first = 0, bytes = info_.config.min_pgsize();
  if (const auto* o = std::get_if<MapPagesOp>(&op)) first = o->iova, bytes = o->pgsize * o->pgcount;
  if (const auto* o = std::get_if<UnmapPagesOp>(&op))
    first = o->iova, bytes = o->pgsize * o->pgcount;
  if (const auto* o = std::get_if<IovaToPhysOp>(&op)) first = o->iova;
  const uint64_t min = info_.config.min_pgsize();
  const uint64_t offset = (index * 0x48) & (min - 1) & ~uint64_t{7};
  const uint64_t pages = bytes / min;
  for (uint64_t page : {uint64_t{0}, pages - 1, (index * 0x9e3779b97f4a7c15 >> 7) % pages}) {
    const uint64_t iova = first + page * min + offset;
    const auto leaf = w.checked.shadow().leaves().leaf_at(iova);
    if (auto why = judge_iova_to_phys(leaf, iova, w.checked.iova_to_phys(iova))) return why;
    // Only through tables a live leaf of ours keeps: a table above an unmapped page may be
    // freed by another thread's unmap while we walk (the end of the episode walks it all).
    if (fmt_ && leaf) {
      if (auto why = judge_walk(*fmt_, leaf, iova, hw::walk(mem_, *fmt_, roots_, iova))) return why;
    }
  }
  return std::nullopt;
}

// The whole domain: the final tables map exactly what the threads' references map together.
std::optional<Violation> Episode::judge_union() {
  ref::LeafMap all(info_.config.pgsize_bitmap);
  for (const auto& w : workers_)
    for (const auto& [iova, run] : w->checked.shadow().leaves().runs()) all.insert(run);
  std::vector<Segment> want, have;
  for (const auto& [iova, run] : all.runs()) append(want, {run.iova, run.last(), run.paddr});
  const size_t index = trace_.empty() ? 0 : trace_.size() - 1;
  auto fail = [&](std::string detail) {
    return Violation{index, "end of episode", "translation", std::move(detail)};
  };
  if (!fmt_) {
    for (const auto& [iova, run] : all.runs())
      if (auto why = judge_iova_to_phys(all.leaf_at(iova), iova, driver_->iova_to_phys(iova)))
        return fail(*why);
    return std::nullopt;
  }
  const hw::TableDump dump = hw::dump_tables(mem_, *fmt_, roots_);
  if (!dump.malformed.empty())
    return fail("the final tables are malformed: " + hw::format_malformed(dump.malformed.front()));
  for (const hw::Mapping& m : dump.mappings) append(have, {m.iova, m.iova + (m.size - 1), m.paddr});
  if (have != want) {
    size_t i = 0;
    while (i < have.size() && i < want.size() && have[i] == want[i]) i++;
    return fail(fmt::format(
        "the final tables of all {} threads map {}, where the union of their "
        "references maps {} ({} and {} segments in all)",
        options_.threads, describe(have, i), describe(want, i), have.size(), want.size()));
  }
  for (const auto& [iova, run] : all.runs())
    if (auto why = judge_walk(*fmt_, all.leaf_at(iova), iova, hw::walk(mem_, *fmt_, roots_, iova)))
      return fail(*why);
  return std::nullopt;
}

std::optional<Violation> Episode::teardown() {
  driver_.reset();
  const size_t index = trace_.empty() ? 0 : trace_.size() - 1;
  Violation v{index, "teardown", "", ""};
  if (auto found = shared_findings()) {
    v.check = found->first;
    v.detail = found->second;
    return v;
  }
  const auto leaked = mem_.live_allocations();
  if (leaked.empty()) return std::nullopt;
  v.check = "leak";
  v.detail = fmt::format(
      "{} table page(s) still allocated after the driver was destroyed, the "
      "first at {:#x} ({} bytes)",
      leaked.size(), leaked.front().paddr, leaked.front().size);
  return v;
}

}  // namespace iommu::conform
