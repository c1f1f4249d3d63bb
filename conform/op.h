// The op vocabulary of a conformance campaign: every call a campaign makes, at the core API
// level (ref::RefDomain), at the driver level (io_pgtable_ops) and as a device. A trace is a
// list of these; docs/TRACES.md gives the text form of each.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ref/device_view.h"
#include "ref/domain.h"

namespace iommu::conform {

// How a field reads and prints; the printer, the parser and the minimizer all go by it.
enum class FieldKind {
  kAddr,     // iova or paddr: printed in hex
  kSize,     // byte count: printed as 4K/2M/... when exact, parsed with or without a unit
  kCount,    // pgcount: decimal
  kProt,     // IOMMU_* flags as the letters of prot_to_string
  kGather,   // a gather label, decimal
  kFlag,     // optional boolean, printed only when set (priv=1)
  kSegments  // map_sg's scatterlist: PADDR+LENGTH,...
};

// A gather names the batch an unmap_fast (or a driver-level unmap_pages) adds to; the label
// is the trace's own, the engine maps it to a real gather on first use.
using GatherLabel = uint32_t;

// Each op lists its fields once, in text order, through fields(op, f): f(key, member, kind).
// Optional members (std::optional, flags) may be absent from the text.

struct MapOp {
  static constexpr std::string_view kName = "map";
  uint64_t iova = 0, paddr = 0, size = 0;
  int prot = 0;
  bool operator==(const MapOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("paddr", s.paddr, FieldKind::kAddr);
    f("size", s.size, FieldKind::kSize);
    f("prot", s.prot, FieldKind::kProt);
  }
};

// iommu_map without its iotlb_sync_map: under non-present caching the mapping may still fault.
struct MapNosyncOp {
  static constexpr std::string_view kName = "map_nosync";
  uint64_t iova = 0, paddr = 0, size = 0;
  int prot = 0;
  bool operator==(const MapNosyncOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) { MapOp::fields(s, f); }
};

struct IotlbSyncMapOp {
  static constexpr std::string_view kName = "iotlb_sync_map";
  uint64_t iova = 0, size = 0;
  bool operator==(const IotlbSyncMapOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("size", s.size, FieldKind::kSize);
  }
};

struct UnmapOp {
  static constexpr std::string_view kName = "unmap";
  uint64_t iova = 0, size = 0;
  bool operator==(const UnmapOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) { IotlbSyncMapOp::fields(s, f); }
};

// iommu_unmap_fast: the range stays visible to devices until `iotlb_sync gather=N`.
struct UnmapFastOp {
  static constexpr std::string_view kName = "unmap_fast";
  uint64_t iova = 0, size = 0;
  GatherLabel gather = 0;
  bool operator==(const UnmapFastOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    IotlbSyncMapOp::fields(s, f);
    f("gather", s.gather, FieldKind::kGather);
  }
};

struct IotlbSyncOp {
  static constexpr std::string_view kName = "iotlb_sync";
  GatherLabel gather = 0;
  bool operator==(const IotlbSyncOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("gather", s.gather, FieldKind::kGather);
  }
};

struct FlushIotlbAllOp {
  static constexpr std::string_view kName = "flush_iotlb_all";
  bool operator==(const FlushIotlbAllOp&) const = default;
  template <class S, class F> static void fields(S&, F&&) {}
};

struct MapSgOp {
  static constexpr std::string_view kName = "map_sg";
  uint64_t iova = 0;
  int prot = 0;
  std::vector<ref::Segment> segs;  // at least one
  bool operator==(const MapSgOp& o) const;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("prot", s.prot, FieldKind::kProt);
    f("segs", s.segs, FieldKind::kSegments);
  }
};

struct IovaToPhysOp {
  static constexpr std::string_view kName = "iova_to_phys";
  uint64_t iova = 0;
  bool operator==(const IovaToPhysOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
  }
};

// Driver level: one io_pgtable_ops call.
struct MapPagesOp {
  static constexpr std::string_view kName = "map_pages";
  uint64_t iova = 0, paddr = 0, pgsize = 0, pgcount = 0;
  int prot = 0;
  bool operator==(const MapPagesOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("paddr", s.paddr, FieldKind::kAddr);
    f("pgsize", s.pgsize, FieldKind::kSize);
    f("pgcount", s.pgcount, FieldKind::kCount);
    f("prot", s.prot, FieldKind::kProt);
  }
};

// Without gather= the removed leaves are invalidated right after the call (as iommu_unmap
// does); with gather=N they stay visible until `iotlb_sync gather=N`.
struct UnmapPagesOp {
  static constexpr std::string_view kName = "unmap_pages";
  uint64_t iova = 0, pgsize = 0, pgcount = 0;
  std::optional<GatherLabel> gather;
  bool operator==(const UnmapPagesOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("pgsize", s.pgsize, FieldKind::kSize);
    f("pgcount", s.pgcount, FieldKind::kCount);
    f("gather", s.gather, FieldKind::kGather);
  }
};

// A device access through the IOMMU (read or write), optionally privileged or an instruction
// fetch.
struct ReadOp {
  static constexpr std::string_view kName = "read";
  uint64_t iova = 0;
  bool priv = false;
  bool exec = false;
  bool operator==(const ReadOp&) const = default;
  ref::DeviceAccess access() const { return {.write = false, .exec = exec, .priv = priv}; }
  template <class S, class F> static void fields(S& s, F&& f) {
    f("iova", s.iova, FieldKind::kAddr);
    f("priv", s.priv, FieldKind::kFlag);
    f("exec", s.exec, FieldKind::kFlag);
  }
};

struct WriteOp {
  static constexpr std::string_view kName = "write";
  uint64_t iova = 0;
  bool priv = false;
  bool exec = false;
  bool operator==(const WriteOp&) const = default;
  ref::DeviceAccess access() const { return {.write = true, .exec = exec, .priv = priv}; }
  template <class S, class F> static void fields(S& s, F&& f) { ReadOp::fields(s, f); }
};

// Fault injection, as the kernel's fail_nth: the nth table allocation that the next op
// requests fails, as a page allocator returning NULL; a next op that requests fewer fails none.
struct FailAllocOp {
  static constexpr std::string_view kName = "fail_alloc";
  uint64_t nth = 1;
  bool operator==(const FailAllocOp&) const = default;
  template <class S, class F> static void fields(S& s, F&& f) {
    f("nth", s.nth, FieldKind::kCount);
  }
};

using Op = std::variant<MapOp, MapNosyncOp, IotlbSyncMapOp, UnmapOp, UnmapFastOp, IotlbSyncOp,
                        FlushIotlbAllOp, MapSgOp, IovaToPhysOp, MapPagesOp, UnmapPagesOp, ReadOp,
                        WriteOp, FailAllocOp>;

std::string_view op_name(const Op& op);

// Every op name, in the variant's order.
std::vector<std::string_view> op_names();

// A default-valued op of that name; nullopt for an unknown name.
std::optional<Op> make_op(std::string_view name);

// The iova range [first, last] an op acts on, for ops that have one; `ret` is the driver's
// result, since an unmap may remove more than it asked for (a whole leaf or table slot).
std::optional<std::pair<uint64_t, uint64_t>> op_range(const Op& op, int64_t ret);

// Applies f(key, member, kind) to every field of whichever op `op` holds.
template <class F>
void for_each_field(Op& op, F&& f) {
  std::visit([&](auto& o) { std::decay_t<decltype(o)>::fields(o, f); }, op);
}
template <class F>
void for_each_field(const Op& op, F&& f) {
  std::visit([&](const auto& o) { std::decay_t<decltype(o)>::fields(o, f); }, op);
}

}  // namespace iommu::conform
