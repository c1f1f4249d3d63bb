#include "proofs/solve.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace iommu::proofs {

z3::expr word(z3::context& ctx, const char* name) { return ctx.bv_const(name, 64); }

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

namespace {

// Sums of monomials: sums written in different orders simplify to one term before SAT; the
// second simplify folds what solve-eqs substituted (a case's equation into an ite's test).
z3::solver bit_blaster(z3::context& ctx) {
  z3::params som(ctx);
  som.set("som", true);
  return (z3::with(z3::tactic(ctx, "simplify"), som) & z3::tactic(ctx, "solve-eqs") &
          z3::with(z3::tactic(ctx, "simplify"), som) & z3::tactic(ctx, "bit-blast") &
          z3::tactic(ctx, "sat"))
      .mk_solver();
}

}  // namespace

Outcome decide(z3::context& ctx, const z3::expr& assumptions, const z3::expr& claim,
               const Shown& shown, unsigned timeout_ms, Engine engine) {
  z3::solver solver = engine == Engine::kQfBv ? z3::solver(ctx, "QF_BV") : bit_blaster(ctx);
  if (timeout_ms != 0) {
    z3::params p(ctx);
    p.set("timeout", timeout_ms);
    solver.set(p);
  }
  solver.add(assumptions && !claim);
  if (const char* dump = std::getenv("IOMMUCHECK_PROOFS_DUMP")) {
    std::ofstream(dump) << solver.to_smt2();
  }
  Outcome out;
  switch (solver.check()) {
    case z3::unsat:
      out.status = Status::kProved;
      break;
    case z3::sat: {
      out.status = Status::kCounterexample;
      const z3::model m = solver.get_model();
      for (const auto& [name, e] : shown) {
        const z3::expr v = m.eval(e, true);
        out.model.push_back(v.is_bool() ? fmt::format("{} = {}", name, v.is_true())
                                        : fmt::format("{} = {}", name, hex(v.get_numeral_uint64())));
      }
      break;
    }
    case z3::unknown:
      out.status = Status::kUnknown;
      out.model.push_back(solver.reason_unknown());
      break;
  }
  return out;
}

Outcome all_of(const std::vector<Step>& steps, unsigned timeout_ms) {
  Stopwatch clock;
  Outcome out;
  out.status = Status::kProved;
  for (const Step& step : steps) {
    out = step(clock.remaining_ms(timeout_ms));
    if (out.status != Status::kProved) break;
  }
  out.seconds = clock.seconds();
  return out;
}

double Stopwatch::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

unsigned Stopwatch::remaining_ms(unsigned timeout_ms) const {
  if (timeout_ms == 0) return 0;
  const double left = timeout_ms - seconds() * 1000;
  return static_cast<unsigned>(std::max(1.0, left));
}

}  // namespace iommu::proofs
