#include "conform/judge.h"

#include <fmt/core.h>

#include "base/bits.h"
#include "base/prot.h"

namespace iommu::conform {
namespace {

std::string perms_name(const hw::Perms& p) {
  std::string s;
  s += p.read ? 'r' : '-';
  s += p.write ? 'w' : '-';
  s += p.exec ? 'x' : '-';
  if (p.priv_only) s += " priv-only";
  return s;
}

std::string access_name(const ref::DeviceAccess& a) {
  std::string s = a.write ? "write" : a.exec ? "exec" : "read";
  if (a.priv) s += " (privileged)";
  return s;
}

std::string mapping_name(const ref::LeafInfo& leaf, uint64_t iova) {
  return fmt::format("{:#x} prot={}", leaf.paddr + (iova - leaf.iova), prot_to_string(leaf.prot));
}

bool grants(const hw::Perms& perms, const ref::DeviceAccess& access) {
  return !hw::check_access(hw::Leaf{.perms = perms}, to_hw(access)).has_value();
}

// Translation and permission faults are the answers a correct table gives; so is an address
// size fault for an iova beyond the ias. Anything else is a malformed or dangling table.
bool is_harmless_fault(const hw::Format& fmt, uint64_t iova, hw::FaultReason r) {
  if (r == hw::FaultReason::kAddressSize) return !fits_bits(iova, 1, fmt.geo().ias);
  return r == hw::FaultReason::kTranslation || r == hw::FaultReason::kPermission;
}

// What a walk of an unmapped iova may end in: a translation fault, or an address size fault
// when the iova is beyond the ias, which no table can map.
bool is_unmapped_answer(const hw::Format& fmt, uint64_t iova, hw::FaultReason r) {
  return r == hw::FaultReason::kTranslation ||
         (r == hw::FaultReason::kAddressSize && !fits_bits(iova, 1, fmt.geo().ias));
}

std::string fault_name(const hw::Fault& f) {
  return fmt::format("{} fault at level {} (descriptor at {:#x})", hw::fault_reason_name(f.reason),
                     f.level, f.desc_paddr);
}

}  // namespace

hw::Perms format_perms(const hw::Format& fmt, int prot) {
  const uint64_t pgsize = fmt.geo().pgsize_bitmap & (~fmt.geo().pgsize_bitmap + 1);
  const unsigned level = fmt.leaf_level(pgsize);
  return fmt.decode(fmt.make_leaf(0, pgsize, prot), level).perms;
}

hw::Access to_hw(const ref::DeviceAccess& access) {
  return hw::Access{.write = access.write, .exec = access.exec, .priv = access.priv};
}

Verdict judge_walk(const hw::Format& fmt, const std::optional<ref::LeafInfo>& expected,
                   uint64_t iova, const hw::WalkResult& walk) {
  const hw::Leaf* leaf = walk.leaf();
  if (!expected) {
    if (!leaf && is_unmapped_answer(fmt, iova, walk.fault()->reason)) return std::nullopt;
    if (!leaf) return fmt::format("ref: unmapped; hw walk: {}", fault_name(*walk.fault()));
    return fmt::format("ref: unmapped; hw walk: translates to {:#x} ({})",
                       leaf->paddr_base + (iova - leaf->iova_base), perms_name(leaf->perms));
  }
  if (!leaf)
    return fmt::format("ref: {}; hw walk: {}", mapping_name(*expected, iova),
                       fault_name(*walk.fault()));
  const uint64_t got = leaf->paddr_base + (iova - leaf->iova_base);
  const hw::Perms want_perms = format_perms(fmt, expected->prot);
  if (got != expected->paddr + (iova - expected->iova) || leaf->perms != want_perms) {
    return fmt::format("ref: {} (hw perms {}); hw walk: {:#x} perms {} (leaf {:#x}+{:#x} level {})",
                       mapping_name(*expected, iova), perms_name(want_perms), got,
                       perms_name(leaf->perms), leaf->iova_base, leaf->size, leaf->level);
  }
  return std::nullopt;
}

Verdict judge_own_access(const ref::DeviceView& view, uint64_t iova,
                         const ref::DeviceAccess& access,
                         const std::optional<ref::Observation>& reached) {
  const ref::DeviceAccess data{.write = access.write, .exec = false, .priv = true};
  const char* kind = access.write ? "write" : "read";
  if (reached && ref::prot_permits(reached->prot, data)) {
    if (view.allows_translation(reached->paddr, data)) return std::nullopt;
    std::string allowed = view.current ? fmt::format("{:#x} prot={}", view.current->paddr,
                                                     prot_to_string(view.current->prot))
                                       : std::string("a fault");
    if (!view.stale.empty())
      allowed += fmt::format(" or {} unsynced translation(s)", view.stale.size());
    return fmt::format("device {} at {:#x} via the device's mapping tree: reached {:#x} prot={}; "
                       "ref allows {}",
                       kind, iova, reached->paddr, prot_to_string(reached->prot), allowed);
  }
  if (view.allows_fault(data)) return std::nullopt;
  return fmt::format("device {} at {:#x} via the device's mapping tree: {}; ref: mapped to {:#x} "
                     "prot={}, synced, must succeed",
                     kind, iova, reached ? "no permission" : "no mapping",
                     view.current->paddr, prot_to_string(view.current->prot));
}

Verdict judge_access(const hw::Format& fmt, const ref::DeviceView& view, uint64_t iova,
                     const ref::DeviceAccess& access, const hw::AccessResult& result) {
  auto what = [&] {
    return fmt::format("device {} at {:#x} via {}", access_name(access), iova,
                       hw::source_name(result.source));
  };
  if (result.fault && !is_harmless_fault(fmt, iova, result.fault->reason)) {
    return fmt::format("{}: {}", what(), fault_name(*result.fault));
  }
  auto permits = [&](const ref::Observation& o) { return grants(format_perms(fmt, o.prot), access); };
  if (result.fault) {
    if (view.may_fault || !view.current || !permits(*view.current)) return std::nullopt;
    // A stale translation that denies the access may still be the one the hardware uses.
    const bool stale_denies = std::any_of(view.stale.begin(), view.stale.end(),
                                          [&](const ref::Observation& o) { return !permits(o); });
    if (result.fault->reason == hw::FaultReason::kPermission && stale_denies) return std::nullopt;
    return fmt::format("{}: {}; ref: mapped to {:#x} prot={}, must succeed", what(),
                       fault_name(*result.fault), view.current->paddr,
                       prot_to_string(view.current->prot));
  }
  const uint64_t paddr = result.paddr(iova);
  auto reaches = [&](const ref::Observation& o) { return o.paddr == paddr && permits(o); };
  if ((view.current && reaches(*view.current)) ||
      std::any_of(view.stale.begin(), view.stale.end(), reaches)) {
    return std::nullopt;
  }
  std::string allowed = view.current ? fmt::format("{:#x} prot={}", view.current->paddr,
                                                   prot_to_string(view.current->prot))
                                     : std::string("a fault");
  if (!view.stale.empty()) allowed += fmt::format(" or {} stale translation(s)", view.stale.size());
  return fmt::format("{}: reached {:#x} with perms {}; ref allows {}", what(), paddr,
                     perms_name(result.leaf->perms), allowed);
}

Verdict judge_iova_to_phys(const std::optional<ref::LeafInfo>& expected, uint64_t iova,
                           uint64_t got) {
  const uint64_t want = expected ? expected->paddr + (iova - expected->iova) : 0;
  if (got == want) return std::nullopt;
  return fmt::format("iova_to_phys({:#x}): ref {:#x}, driver {:#x}", iova, want, got);
}

}  // namespace iommu::conform
