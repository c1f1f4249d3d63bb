// How the flush proofs ask Z3: a claim over free constants is proved when its negation is
// unsatisfiable; otherwise the model is the counterexample, shown as the named values.
#pragma once

#include <z3++.h>

#include <string>
#include <vector>

#include "proofs/property.h"

namespace iommu::proofs::flush {

struct Shown {
  std::string name;
  z3::expr value;
};

// Z3's default solver, or a fixed simplify / bit-blast / SAT pipeline; which is faster
// depends on the problem (measured per property).
enum class Engine { kBitBlast, kDefault };

// Decides `claim` for every value of its free constants. A counterexample lists `shown`
// evaluated in the model (bit-vectors in hex, Booleans as 0/1).
Outcome decide(const z3::expr& claim, const std::vector<Shown>& shown, unsigned timeout_ms,
               Engine engine = Engine::kBitBlast);

// Whether `query` is satisfiable; the model is left in `solver` for the caller. Throws
// nothing: unknown is reported as such with Z3's reason.
z3::check_result satisfiable(z3::solver& solver, const z3::expr& query, unsigned timeout_ms);

// The value of e in model m as the counterexample shows it.
std::string show(const z3::model& m, const z3::expr& e);

// A fresh 64-bit constant.
z3::expr bv64(z3::context& c, const std::string& name);

// Wall-clock seconds since construction, for Outcome::seconds.
class Stopwatch {
 public:
  Stopwatch();
  double seconds() const;

 private:
  long long start_ns_;
};

}  // namespace iommu::proofs::flush
