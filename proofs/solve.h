// Deciding one claim with Z3 and turning the answer into an Outcome. Internal to proofs/.
#pragma once

#include <z3++.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "proofs/property.h"

namespace iommu::proofs {

// A value to print when the claim has a counterexample, in reading order.
using Shown = std::vector<std::pair<std::string, z3::expr>>;

// A fresh 64-bit bit-vector constant.
z3::expr word(z3::context& ctx, const char* name);

// How Z3 is asked: its QF_BV solver, or a fixed simplify / solve-eqs / bit-blast / SAT pipeline
// (much faster on most of these queries; measured per query, docs/PROOFS.md).
enum class Engine { kQfBv, kBitBlast };

// Proves `claim` under `assumptions` (Z3 looks for assumptions && !claim). On a counterexample
// the Outcome lists `shown` evaluated in the model.
Outcome decide(z3::context& ctx, const z3::expr& assumptions, const z3::expr& claim,
               const Shown& shown, unsigned timeout_ms, Engine engine = Engine::kQfBv);

// Times a whole property (several decide() calls, say) into Outcome::seconds.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const;
  // What is left of timeout_ms (0: no limit) for the next query; at least 1 ms.
  unsigned remaining_ms(unsigned timeout_ms) const;

 private:
  std::chrono::steady_clock::time_point start_;
};

// One step of a proof split into several queries; it gets what is left of the timeout.
using Step = std::function<Outcome(unsigned timeout_ms)>;

// Decides the steps in order and returns the first that is not proved (or the last), with the
// seconds of all of them: a claim proved in lemmas, each small enough for Z3.
Outcome all_of(const std::vector<Step>& steps, unsigned timeout_ms);

// "0x..." for a 64-bit model value.
std::string hex(uint64_t v);

}  // namespace iommu::proofs
