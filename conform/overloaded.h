// The usual std::visit helper: one callable from several lambdas.
#pragma once

namespace iommu::conform {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
// clang 14 does not deduce aggregate templates by itself.
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace iommu::conform
