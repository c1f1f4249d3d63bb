#include "proofs/flush_solve.h"

#include <fmt/core.h>

#include <chrono>

namespace iommu::proofs::flush {
namespace {

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Stopwatch::Stopwatch() : start_ns_(now_ns()) {}

double Stopwatch::seconds() const { return static_cast<double>(now_ns() - start_ns_) * 1e-9; }

z3::expr bv64(z3::context& c, const std::string& name) { return c.bv_const(name.c_str(), 64); }

std::string show(const z3::model& m, const z3::expr& e) {
  const z3::expr v = m.eval(e, true);
  if (v.is_bool()) return v.is_true() ? "1" : "0";
  if (v.is_int()) return v.get_decimal_string(0);
  if (v.is_bv() && v.get_sort().bv_size() <= 64)
    return fmt::format("{:#x}", v.get_numeral_uint64());
  return v.get_decimal_string(0);
}

z3::check_result satisfiable(z3::solver& solver, const z3::expr& query, unsigned timeout_ms) {
  if (timeout_ms != 0) {
    z3::params p(solver.ctx());
    p.set("timeout", timeout_ms);
    solver.set(p);
  }
  solver.add(query);
  return solver.check();
}

Outcome decide(const z3::expr& claim, const std::vector<Shown>& shown, unsigned timeout_ms,
               Engine engine) {
  Stopwatch watch;
  z3::context& c = claim.ctx();
  // Plain bit-vector problems: simplify, bit-blast, SAT beats the default portfolio here.
  z3::solver solver =
      engine == Engine::kDefault
          ? z3::solver(c)
          : (z3::tactic(c, "simplify") & z3::tactic(c, "bit-blast") & z3::tactic(c, "sat"))
                .mk_solver();
  Outcome out;
  switch (satisfiable(solver, !claim, timeout_ms)) {
    case z3::unsat: out.status = Status::kProved; break;
    case z3::sat: {
      out.status = Status::kCounterexample;
      const z3::model m = solver.get_model();
      for (const Shown& s : shown) out.model.push_back(s.name + " = " + show(m, s.value));
      break;
    }
    case z3::unknown:
      out.status = Status::kUnknown;
      out.model.push_back(solver.reason_unknown());
      break;
  }
  out.seconds = watch.seconds();
  return out;
}

}  // namespace iommu::proofs::flush
