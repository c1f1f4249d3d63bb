#include "conform/op.h"

#include <algorithm>
#include <utility>

namespace iommu::conform {
namespace {

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

}  // namespace iommu::conform
