#include "conform/op.h"

#include <algorithm>
#include <utility>

namespace iommu::conform {
namespace {

uint64_t add_clamped(uint64_t a, uint64_t b) { return a > ~b ? ~uint64_t{0} : a + b; }

template <size_t... I>
std::optional<Op> make_indexed(std::string_view name, std::index_sequence<I...>) {
  std::optional<Op> out;
  ((std::variant_alternative_t<I, Op>::kName == name
        ? void(out.emplace(std::in_place_index<I>))
        : void()),
   ...);
  return out;
}

template <size_t... I>
std::vector<std::string_view> names_indexed(std::index_sequence<I...>) {
  return {std::variant_alternative_t<I, Op>::kName...};
}

constexpr auto kOpIndices = std::make_index_sequence<std::variant_size_v<Op>>{};

}  // namespace

bool MapSgOp::operator==(const MapSgOp& o) const {
  auto same = [](const ref::Segment& a, const ref::Segment& b) {
    return a.paddr == b.paddr && a.length == b.length;
  };
  return iova == o.iova && prot == o.prot &&
         std::equal(segs.begin(), segs.end(), o.segs.begin(), o.segs.end(), same);
}

std::string_view op_name(const Op& op) {
  return std::visit([](const auto& o) { return std::decay_t<decltype(o)>::kName; }, op);
}

std::vector<std::string_view> op_names() { return names_indexed(kOpIndices); }

std::optional<Op> make_op(std::string_view name) { return make_indexed(name, kOpIndices); }

std::optional<std::pair<uint64_t, uint64_t>> op_range(const Op& op, int64_t ret) {
  auto span = [](uint64_t iova, uint64_t size) -> std::optional<std::pair<uint64_t, uint64_t>> {
    if (size == 0) return std::nullopt;
    return std::pair{iova, add_clamped(iova, size - 1)};
  };
  const uint64_t done = ret > 0 ? static_cast<uint64_t>(ret) : 0;
  if (auto* o = std::get_if<MapOp>(&op)) return span(o->iova, o->size);
  if (auto* o = std::get_if<MapNosyncOp>(&op)) return span(o->iova, o->size);
  if (auto* o = std::get_if<IotlbSyncMapOp>(&op)) return span(o->iova, o->size);
  if (auto* o = std::get_if<UnmapOp>(&op)) return span(o->iova, std::max(o->size, done));
  if (auto* o = std::get_if<UnmapFastOp>(&op)) return span(o->iova, std::max(o->size, done));
  if (auto* o = std::get_if<IovaToPhysOp>(&op)) return span(o->iova, 1);
  if (auto* o = std::get_if<MapPagesOp>(&op)) return span(o->iova, o->pgsize * o->pgcount);
  if (auto* o = std::get_if<UnmapPagesOp>(&op)) {
    return span(o->iova, std::max(o->pgsize * o->pgcount, done));
  }
  if (auto* o = std::get_if<MapSgOp>(&op)) {
    uint64_t total = 0;
    for (const ref::Segment& s : o->segs) total += s.length;
    return span(o->iova, total);
  }
  return std::nullopt;
}

}  // namespace iommu::conform
