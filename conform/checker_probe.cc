// The checker's probes: which iovas each op is checked at, and what each probe compares.
#include <fmt/core.h>

#include <algorithm>

#include "base/bits.h"
#include "conform/checker.h"
#include "conform/judge.h"
#include "hw/walker.h"

namespace iommu::conform {
namespace {

constexpr ref::DeviceAccess kRead{};
constexpr ref::DeviceAccess kWrite{.write = true};

std::string access_log(uint64_t iova, const ref::DeviceAccess& a, const hw::AccessResult& r) {
  const char* kind = a.write ? "write" : "read";
  if (r.ok()) {
    return fmt::format("{} {:#x} -> {:#x} ({})", kind, iova, r.paddr(iova),
                       hw::source_name(r.source));
  }
  return fmt::format("{} {:#x} -> {} fault ({})", kind, iova,
                     hw::fault_reason_name(r.fault->reason), hw::source_name(r.source));
}

}  // namespace

std::vector<uint64_t> Checker::probe_points(Range r) {
  const uint64_t min = info_.config.min_pgsize();
  const uint64_t top = low_mask(info_.config.ias);
  const uint64_t first = r.first & ~(min - 1), last = std::min(r.last, top) & ~(min - 1);
  std::vector<uint64_t> pts = {first, last};
  if (first >= min) pts.push_back(first - min);
  if (last < top - (min - 1)) pts.push_back(last + min);
  for (unsigned i = 0; i < opts_.samples && last > first; i++) {
    rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
    pts.push_back(first + ((rng_ >> 11) % ((last - first) / min + 1)) * min);
  }
  // An offset inside the page, so translations are checked below page granularity too.
  const uint64_t offset = (ops_ * 0x48) & (min - 1) & ~uint64_t{7};
  for (uint64_t& p : pts) p += offset;
  return pts;
}

std::optional<std::string> Checker::probe_access(uint64_t iova, const ref::DeviceAccess& access,
                                                 std::string* hw_log) {
  if (own_) {
    const auto reached = own_->device_translation(iova);
    if (hw_log) {
      if (!hw_log->empty()) *hw_log += "; ";
      *hw_log += reached ? fmt::format("{} {:#x} -> {:#x} (mapping tree)",
                                       access.write ? "write" : "read", iova, reached->paddr)
                         : fmt::format("{} {:#x} -> fault (mapping tree)",
                                       access.write ? "write" : "read", iova);
    }
    return judge_own_access(ref_.domain().device_view(iova), iova, access, reached);
  }
  const hw::AccessResult r = device_->translate(iova, to_hw(access));
  if (hw_log) {
    if (!hw_log->empty()) *hw_log += "; ";
    *hw_log += access_log(iova, access, r);
  }
  return judge_access(*fmt_, ref_.domain().device_view(iova), iova, access, r);
}

std::optional<std::string> Checker::probe(uint64_t iova, std::string* hw_log) {
  const auto leaf = ref_.domain().pgtable().leaves().leaf_at(iova);
  if (auto why = judge_iova_to_phys(leaf, iova, driver_->iova_to_phys(iova))) return why;
  if (own_) {
    for (const ref::DeviceAccess& a : {kRead, kWrite}) {
      if (auto why = probe_access(iova, a, hw_log)) return why;
    }
    return std::nullopt;
  }
  if (!device_) return std::nullopt;
  if (auto why = judge_walk(*fmt_, leaf, iova, hw::walk(mem_, *fmt_, roots_, iova))) {
    return fmt::format("walk of {:#x}: {}", iova, *why);
  }
  for (const ref::DeviceAccess& a : {kRead, kWrite}) {
    if (auto why = probe_access(iova, a, hw_log)) return why;
  }
  return std::nullopt;
}

namespace {

std::string leaf_text(const hw::Leaf& l) {
  return fmt::format("[{:#x}, +{:#x}) -> {:#x} {}{}{} at level {}", l.iova_base, l.size,
                     l.paddr_base, l.perms.read ? 'r' : '-', l.perms.write ? 'w' : '-',
                     l.perms.exec ? 'x' : '-', l.level);
}

std::string walk_text(const hw::WalkResult& w) {
  std::string s;
  for (const hw::TableStep& t : w.path.used())
    s += fmt::format("level {}: descriptor at {:#x} -> table {:#x}; ", t.level, t.desc_paddr,
                     t.table_paddr);
  if (const hw::Leaf* l = w.leaf()) return s + "leaf " + leaf_text(*l);
  const hw::Fault& f = *w.fault();
  return s + fmt::format("{} fault at level {} (descriptor at {:#x})",
                         hw::fault_reason_name(f.reason), f.level, f.desc_paddr);
}

}  // namespace

std::string Checker::device_state(const Op& op) const {
  if (!device_ || own_) return "";
  std::optional<uint64_t> iova;
  if (auto* o = std::get_if<ReadOp>(&op)) iova = o->iova;
  if (auto* o = std::get_if<WriteOp>(&op)) iova = o->iova;
  if (const auto range = op_range(op, 0)) iova = range->first;
  if (!iova) return "";
  std::string iotlb;
  for (const hw::IotlbEntry& e : device_->iotlb().lookup_all(kCtx, *iova)) {
    const auto* l = std::get_if<hw::Leaf>(&e);
    iotlb += (iotlb.empty() ? "" : ", ") + (l ? leaf_text(*l) : std::string("a cached fault"));
  }
  return fmt::format("walk of {:#x}: {}. IOTLB for it: {}", *iova,
                     walk_text(hw::walk(mem_, *fmt_, roots_, *iova)),
                     iotlb.empty() ? "nothing" : iotlb);
}

std::optional<std::string> Checker::check_op(const Op& op, std::string& hw_log) {
  std::string* log = opts_.record_hw ? &hw_log : nullptr;
  const bool probed = device_ || own_;
  if (auto* o = std::get_if<ReadOp>(&op); o && probed) return probe_access(o->iova, o->access(), log);
  if (auto* o = std::get_if<WriteOp>(&op); o && probed) return probe_access(o->iova, o->access(), log);
  const auto range = op_range(op, 0);
  if (!range) return std::nullopt;
  // The replay shows what the device saw at the first probe, the start of the range.
  for (uint64_t iova : probe_points({range->first, range->second})) {
    if (auto why = probe(iova, log)) return why;
    log = nullptr;
  }
  return std::nullopt;
}

// One iova in each stretch of [first, last] that the reference maps alike: the start, and
// where each of its runs begins and ends. A cached entry spanning a partly unmapped block is
// judged in every stretch, not only at its start.
std::vector<uint64_t> Checker::region_starts(uint64_t first, uint64_t last) const {
  constexpr size_t kMaxPoints = 64;
  std::vector<uint64_t> pts = {first};
  for (const ref::LeafRun& run : ref_.domain().pgtable().leaves().runs_in(first, last)) {
    if (pts.size() >= kMaxPoints) break;
    if (run.iova > first) pts.push_back(run.iova);
    if (run.last() < last) pts.push_back(run.last() + 1);
  }
  return pts;
}

// Everything the caches hold in a range whose invalidation has completed must be something
// ref still allows, and no cached table descriptor may point to a freed table.
std::optional<std::string> Checker::check_invalidated(Range r) {
  if (own_) {
    constexpr size_t kMaxPoints = 64;
    for (uint64_t iova : own_->device_mappings_in(r.first, r.last, kMaxPoints)) {
      for (const ref::DeviceAccess& a : {kRead, kWrite}) {
        if (auto why = probe_access(iova, a, nullptr)) {
          return fmt::format("after the sync covering [{:#x}, {:#x}] completed, the device still "
                             "translates: {}",
                             r.first, r.last, *why);
        }
      }
    }
    return std::nullopt;
  }
  if (!device_) return std::nullopt;
  for (const hw::IotlbEntry& e : device_->iotlb().entries_in(kCtx, r.first, r.last)) {
    hw::AccessResult cached{.source = hw::Source::kIotlb};
    uint64_t base = 0;
    if (const hw::Leaf* leaf = std::get_if<hw::Leaf>(&e)) {
      cached.leaf = *leaf;
      base = leaf->iova_base;
    } else {
      cached.fault = hw::Fault{.reason = hw::FaultReason::kTranslation};
      base = std::get<hw::CachedFault>(e).iova_base;
    }
    const uint64_t size = cached.leaf ? cached.leaf->size : std::get<hw::CachedFault>(e).size;
    for (uint64_t iova : region_starts(std::max(base, r.first), std::min(base + (size - 1), r.last))) {
      for (const ref::DeviceAccess& a : {kRead, kWrite}) {
        hw::AccessResult as = cached;
        if (as.leaf) as.fault = hw::check_access(*as.leaf, to_hw(a));
        if (auto why = judge_access(*fmt_, ref_.domain().device_view(iova), iova, a, as)) {
          return fmt::format("after the invalidation of [{:#x}, {:#x}] completed, the IOTLB "
                             "still holds an entry: {}",
                             r.first, r.last, *why);
        }
      }
    }
  }
  for (const auto& [base, hit] : device_->walk_cache().entries_in(kCtx, r.first, r.last)) {
    if (mem_.state(hit.table_paddr) == hw::PageState::kAllocated) continue;
    return fmt::format("the walk cache still holds the level-{} descriptor for [{:#x}, +{:#x}) "
                       "pointing to the table at {:#x}, which is freed: tlb_flush_walk missing "
                       "before the table was freed",
                       hit.level, base, hit.span, hit.table_paddr);
  }
  return std::nullopt;
}

std::optional<std::string> Checker::check_memory() {
  const auto& bad = mem_.bad_accesses();
  if (bad.size() > bad_accesses_) {
    const hw::BadAccess& b = bad[bad_accesses_];
    bad_accesses_ = bad.size();
    const char* state = b.state == hw::PageState::kFreed ? "freed" : "not allocated table memory";
    if (b.width == 0) {
      return fmt::format("the driver freed {:#x}, which is {} (a double free or a bad pointer)",
                         b.paddr, b.state == hw::PageState::kAllocated ? "inside an allocation" : state);
    }
    return fmt::format("the driver {} {} bytes at {:#x}, which is {}", b.write ? "wrote" : "read",
                       b.width, b.paddr, state);
  }
  if (auto errors = env_->host_errors.take(); !errors.empty()) return errors.front();
  return std::nullopt;
}

// Linux WARNs on purpose when a caller misuses it: that is the driver keeping its contract.
// A WARN on a call a correct caller makes is a finding.
std::optional<std::string> Checker::check_warnings(bool misuse, StepResult& r) {
  std::vector<std::string> warnings = env_->warnings.take();
  if (warnings.empty()) return std::nullopt;
  if (!misuse) return std::move(warnings.front());
  for (std::string& w : warnings) r.tolerated_warnings.push_back(std::move(w));
  return std::nullopt;
}

// The ranges whose invalidation this op completed: a strict unmap's own range, a synced
// gather's unmaps, everything on flush_iotlb_all, a failed map's unrolled range.
std::vector<Checker::Range> Checker::settled_ranges(const Op& op, int64_t driver_ret) {
  const uint64_t largest = bit(fls64_idx(info_.config.pgsize_bitmap));
  auto widened = [&](std::pair<uint64_t, uint64_t> r) {
    return Range{r.first & ~(largest - 1), r.second | (largest - 1)};
  };
  const auto range = op_range(op, driver_ret);
  const bool lazy = info_.config.invalidation == ref::Invalidation::kLazy;
  std::vector<Range> out;
  if (auto* o = std::get_if<UnmapFastOp>(&op); o && range) pending_[o->gather].push_back(widened(*range));
  if (auto* o = std::get_if<UnmapPagesOp>(&op); o && o->gather && range) {
    pending_[*o->gather].push_back(widened(*range));
  }
  if (auto* o = std::get_if<IotlbSyncOp>(&op)) {
    out = std::move(pending_[o->gather]);
    pending_.erase(o->gather);
  }
  if (std::holds_alternative<FlushIotlbAllOp>(op)) {
    pending_.clear();
    out.push_back({0, ~uint64_t{0}});
  }
  if (!range) return out;
  const bool failed_map = (std::holds_alternative<MapOp>(op) || std::holds_alternative<MapSgOp>(op) ||
                           std::holds_alternative<MapNosyncOp>(op)) && driver_ret < 0;
  // A lazy unmap settles at flush_iotlb_all, which settles the whole space.
  if (std::holds_alternative<UnmapOp>(op) && !lazy) out.push_back(widened(*range));
  if (auto* o = std::get_if<UnmapPagesOp>(&op); o && !o->gather) out.push_back(widened(*range));
  if (std::holds_alternative<IotlbSyncMapOp>(op) || failed_map) out.push_back(widened(*range));
  return out;
}

}  // namespace iommu::conform
