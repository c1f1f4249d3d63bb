#include "conform/minimize.h"

#include <optional>

#include "conform/overloaded.h"

namespace iommu::conform {
namespace {

// The numbers the field pass may lower, in field order.
std::vector<std::pair<uint64_t*, FieldKind>> shrinkable(Op& op) {
  std::vector<std::pair<uint64_t*, FieldKind>> out;
  for_each_field(op, Overloaded{
                         [&](std::string_view, uint64_t& v, FieldKind kind) {
                           if (kind == FieldKind::kSize || kind == FieldKind::kCount)
                             out.emplace_back(&v, kind);
                         },
                         [&](std::string_view, std::vector<ref::Segment>& segs, FieldKind) {
                           for (auto& s : segs) out.emplace_back(&s.length, FieldKind::kSize);
                         },
                         [](std::string_view, auto&, FieldKind) {},
                     });
  return out;
}

// Smaller values to try, smallest first.
std::vector<uint64_t> candidates(uint64_t x, FieldKind kind) {
  uint64_t low = x & (~x + 1);
  std::vector<uint64_t> c = kind == FieldKind::kCount
                                ? std::vector<uint64_t>{1, x / 2, x - 1}
                                : std::vector<uint64_t>{low, x - low, x / 2};
  std::erase_if(c, [&](uint64_t v) { return v == 0 || v >= x; });
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

// Lowers field `slot` of ops[i] while a smaller value still fails.
void shrink_slot(std::vector<Op>& ops, size_t i, size_t slot, const StillFails& still_fails,
                 TestBudget& budget) {
  bool lowered = true;
  while (lowered && !budget.exhausted()) {
    lowered = false;
    auto [value, kind] = shrinkable(ops[i])[slot];
    for (uint64_t c : candidates(*value, kind)) {
      std::vector<Op> trial = ops;
      *shrinkable(trial[i])[slot].first = c;
      if (budget.run(still_fails, trial)) {
        ops = std::move(trial);
        lowered = true;
        break;
      }
    }
  }
}

}  // namespace

std::vector<Op> shrink_fields(std::vector<Op> ops, const StillFails& still_fails,
                              TestBudget& budget) {
  for (size_t i = 0; i < ops.size(); i++) {
    size_t slots = shrinkable(ops[i]).size();
    for (size_t slot = 0; slot < slots; slot++) shrink_slot(ops, i, slot, still_fails, budget);
  }
  return ops;
}

std::vector<Op> shrink_segments(std::vector<Op> ops, const StillFails& still_fails,
                                TestBudget& budget) {
  for (size_t i = 0; i < ops.size(); i++) {
    auto* sg = std::get_if<MapSgOp>(&ops[i]);
    if (!sg || sg->segs.size() < 2) continue;
    auto fails_with = [&](const std::vector<ref::Segment>& segs) {
      std::vector<Op> trial = ops;
      std::get<MapSgOp>(trial[i]).segs = segs;
      return still_fails(trial);
    };
    std::get<MapSgOp>(ops[i]).segs = ddmin(sg->segs, fails_with, budget);
  }
  return ops;
}

MinimizeResult minimize(std::vector<Op> ops, const StillFails& still_fails, size_t max_tests,
                        const std::function<bool()>& stop) {
  TestBudget budget(max_tests, stop);
  while (!budget.exhausted()) {
    std::vector<Op> before = ops;
    ops = ddmin(std::move(ops), still_fails, budget);
    ops = shrink_segments(std::move(ops), still_fails, budget);
    ops = shrink_fields(std::move(ops), still_fails, budget);
    if (ops == before) break;
  }
  return {std::move(ops), budget.used(), stop && stop()};
}

}  // namespace iommu::conform
