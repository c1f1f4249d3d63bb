// Minimization of a failing op sequence: delta debugging (Zeller and Hildebrandt's ddmin) over
// the ops, then smaller sizes, page counts and scatterlists, for as long as the caller's
// predicate says the sequence still fails.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "conform/op.h"

namespace iommu::conform {

// Caps the predicate calls a minimization may make: each one replays a trace. `stop` (the time
// limit, an interrupt) ends it early too.
class TestBudget {
 public:
  explicit TestBudget(size_t limit, std::function<bool()> stop = {})
      : left_(limit), stop_(std::move(stop)) {}
  bool exhausted() const { return left_ == 0 || (stop_ && stop_()); }
  size_t used() const { return used_; }
  // Runs the predicate unless the budget is spent (then reports "does not fail").
  template <class Pred, class T>
  bool run(Pred& pred, const T& candidate) {
    if (exhausted()) return false;
    --left_;
    ++used_;
    return pred(candidate);
  }

 private:
  size_t left_;
  std::function<bool()> stop_;
  size_t used_ = 0;
};

namespace detail {
template <class T>
std::vector<T> chunk(const std::vector<T>& items, size_t n, size_t i, bool complement) {
  size_t begin = items.size() * i / n, end = items.size() * (i + 1) / n;
  std::vector<T> out;
  for (size_t k = 0; k < items.size(); k++)
    if ((k >= begin && k < end) != complement) out.push_back(items[k]);
  return out;
}
}  // namespace detail

// A 1-minimal sub-sequence of `items` (removing any one element makes it pass) for which
// `still_fails` holds, given that it holds for `items`. Order is kept.
template <class T, class Pred>
std::vector<T> ddmin(std::vector<T> items, Pred&& still_fails, TestBudget& budget) {
  size_t n = 2;
  while (items.size() >= 2 && !budget.exhausted()) {
    n = std::min(n, items.size());
    bool reduced = false;
    for (size_t i = 0; i < n && !reduced; i++) {
      auto subset = detail::chunk(items, n, i, false);
      if (budget.run(still_fails, subset)) {
        items = std::move(subset);
        n = 2;
        reduced = true;
      }
    }
    // With two chunks a complement is the other chunk, already tried.
    for (size_t i = 0; i < n && !reduced && n > 2; i++) {
      auto rest = detail::chunk(items, n, i, true);
      if (budget.run(still_fails, rest)) {
        items = std::move(rest);
        n = n - 1;
        reduced = true;
      }
    }
    if (reduced) continue;
    if (n >= items.size()) break;
    n = std::min(2 * n, items.size());
  }
  return items;
}

using StillFails = std::function<bool(const std::vector<Op>&)>;

// Lowers every size, pgcount and segment length to the smallest tried value that still fails:
// for a count 1, half, one less; for a size its lowest set bit (the smallest size with the
// same alignment), half, and one lowest bit less.
std::vector<Op> shrink_fields(std::vector<Op> ops, const StillFails& still_fails,
                              TestBudget& budget);

// Drops map_sg segments (ddmin over each op's scatterlist).
std::vector<Op> shrink_segments(std::vector<Op> ops, const StillFails& still_fails,
                                TestBudget& budget);

struct MinimizeResult {
  std::vector<Op> ops;
  size_t tests = 0;      // predicate calls made
  bool stopped = false;  // `stop` ended it before it was done
};

// ddmin, then the field passes, repeated until nothing changes, `max_tests` is spent or `stop`
// holds. `still_fails(ops)` must hold on entry.
MinimizeResult minimize(std::vector<Op> ops, const StillFails& still_fails,
                        size_t max_tests = 20000, const std::function<bool()>& stop = {});

}  // namespace iommu::conform
