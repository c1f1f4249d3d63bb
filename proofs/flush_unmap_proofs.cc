// (c) The unmap protocol the checker enforces, over an abstract IOTLB and walk cache: clear
// the leaves, report each removed leaf (tlb_add_page), unlink an emptied table, flush walks
// (tlb_flush_walk) before freeing it, sync the gather (iotlb_sync). A device may walk and fill
// its caches at any moment in between. After the sync no cached translation of the unmapped
// range and no walk-cache entry of a freed table survives.
//
// One tracked leaf and the table holding it stand for every leaf and table: cache entries
// are independent of each other, and the gather covers every reported leaf (proved in
// flush_gather_proofs.cc), so "reported" means "removed by the sync".
#include <string>

#include "proofs/flush_parts.h"
#include "proofs/flush_solve.h"

namespace iommu::proofs::flush {
namespace {

using z3::expr;

// The protocol's steps, in order; pc counts those done.
enum Step : unsigned { kClear, kReport, kUnlink, kFlushWalk, kFree, kSync, kSteps };

const char* step_name(unsigned s) {
  static const char* const names[] = {
      "clear leaves", "report each removed leaf", "unlink the emptied table",
      "flush walks",  "free the table",           "sync"};
  return names[s];
}

struct State {
  expr pc;        // steps done, 0..kSteps
  expr emptied;   // the unmap empties the leaf's table (it is unlinked and freed)
  expr leaf;      // the leaf is present in the table
  expr linked;    // the table is reachable from the root
  expr freed;     // the table's page has been freed
  expr reported;  // the leaf is in the gather
  expr tlb;       // the IOTLB holds the leaf's translation
  expr walk;      // the walk cache holds the table

  // What must hold after `done` steps (the inductive invariant).
  expr inv() const {
    auto after = [&](unsigned s) { return z3::uge(pc, pc.ctx().bv_val(s + 1, 8)); };
    return z3::ule(pc, pc.ctx().bv_val(kSteps, 8)) && z3::implies(after(kClear), !leaf) &&
           z3::implies(after(kReport), reported) && z3::implies(!emptied, linked && !freed) &&
           z3::implies(emptied && after(kUnlink), !linked) &&
           z3::implies(emptied && after(kFlushWalk), !walk && !tlb) && z3::implies(freed, !walk) &&
           z3::implies(after(kSync), !tlb) && z3::implies(!after(kFree), !freed);
  }
  expr done() const { return pc == pc.ctx().bv_val(kSteps, 8); }
  expr goal() const { return !tlb && z3::implies(freed, !walk); }
};

State state(z3::context& c, const std::string& at) {
  auto b = [&](const char* n) { return c.bool_const((n + at).c_str()); };
  return {c.bv_const(("pc" + at).c_str(), 8),
          b("emptied"),
          b("leaf"),
          b("linked"),
          b("freed"),
          b("reported"),
          b("tlb"),
          b("walk")};
}

expr init(const State& s) { return s.pc == 0 && s.leaf && s.linked && !s.freed && !s.reported; }

// The device walks: through the root when the table is linked, or through its cached walk
// entry; it caches the table and, if the leaf is present, its translation.
expr device(const State& s, const State& n) {
  const expr reach = (s.linked || s.walk) && !s.freed;
  return n.pc == s.pc && n.emptied == s.emptied && n.leaf == s.leaf && n.linked == s.linked &&
         n.freed == s.freed && n.reported == s.reported && n.walk == (s.walk || reach) &&
         n.tlb == (s.tlb || (reach && s.leaf));
}

// The next protocol step; `dropped` does nothing in its place.
expr protocol(const State& s, const State& n, int dropped) {
  z3::context& c = s.pc.ctx();
  expr any = c.bool_val(false);
  for (unsigned st = 0; st < kSteps; ++st) {
    expr at = s.pc == c.bv_val(st, 8) && n.pc == c.bv_val(st + 1, 8) && n.emptied == s.emptied;
    expr keep_leaf = n.leaf == s.leaf, keep_linked = n.linked == s.linked;
    expr keep_freed = n.freed == s.freed, keep_rep = n.reported == s.reported;
    expr keep_tlb = n.tlb == s.tlb, keep_walk = n.walk == s.walk;
    expr effect = c.bool_val(true);
    if (static_cast<int>(st) == dropped) {
      effect = keep_leaf && keep_linked && keep_freed && keep_rep && keep_tlb && keep_walk;
    } else if (st == kClear) {
      effect = !n.leaf && keep_linked && keep_freed && keep_rep && keep_tlb && keep_walk;
    } else if (st == kReport) {
      effect = n.reported == (s.reported || !s.leaf) && keep_leaf && keep_linked && keep_freed &&
               keep_tlb && keep_walk;
    } else if (st == kUnlink) {
      effect = n.linked == (s.linked && !s.emptied) && keep_leaf && keep_freed && keep_rep &&
               keep_tlb && keep_walk;
    } else if (st == kFlushWalk) {
      // tlb_flush_walk over the table's span: its walk entry and the leaves under it go.
      effect = z3::ite(s.emptied, !n.walk && !n.tlb, keep_walk && keep_tlb) && keep_leaf &&
               keep_linked && keep_freed && keep_rep;
    } else if (st == kFree) {
      effect = n.freed == (s.freed || s.emptied) && keep_leaf && keep_linked && keep_rep &&
               keep_tlb && keep_walk;
    } else {
      effect = n.tlb == (s.tlb && !s.reported) && keep_leaf && keep_linked && keep_freed &&
               keep_rep && keep_walk;
    }
    any = any || (at && effect);
  }
  return any;
}

Outcome induction(unsigned timeout_ms) {
  z3::context c;
  const State s = state(c, ""), n = state(c, "'");
  const expr claim = z3::implies(init(s), s.inv()) &&
                     z3::implies(s.inv() && (device(s, n) || protocol(s, n, -1)), n.inv()) &&
                     z3::implies(s.inv() && s.done(), s.goal());
  return decide(claim, {{"pc", s.pc}, {"emptied", s.emptied}, {"tlb", s.tlb}, {"walk", s.walk}},
                timeout_ms, Engine::kDefault);
}

// With one step dropped: a concrete run (bounded) that ends with a stale entry, as device
// moves and protocol steps, and as a trace for `iommucheck replay`.
Outcome dropped_step(unsigned dropped, unsigned timeout_ms) {
  constexpr unsigned kMoves = kSteps + 3;
  z3::context c;
  std::vector<State> run;
  for (unsigned i = 0; i <= kMoves; ++i) run.push_back(state(c, "@" + std::to_string(i)));
  expr path = init(run[0]);
  std::vector<expr> by_device;
  for (unsigned i = 0; i < kMoves; ++i) {
    by_device.push_back(c.bool_const(("device@" + std::to_string(i)).c_str()));
    path = path && z3::ite(by_device[i], device(run[i], run[i + 1]),
                           protocol(run[i], run[i + 1], static_cast<int>(dropped)));
  }
  z3::solver solver(c);
  Outcome out;
  Stopwatch watch;
  switch (satisfiable(solver, path && run[kMoves].done() && !run[kMoves].goal(), timeout_ms)) {
    case z3::unsat: out.status = Status::kProved; break;
    case z3::unknown:
      out.status = Status::kUnknown;
      out.model.push_back(solver.reason_unknown());
      break;
    case z3::sat: {
      out.status = Status::kCounterexample;
      const z3::model m = solver.get_model();
      const bool emptied = m.eval(run[0].emptied, true).is_true();
      out.model.push_back(std::string("dropped step = ") + step_name(dropped));
      out.model.push_back(std::string("table emptied by the unmap = ") + (emptied ? "1" : "0"));
      for (unsigned i = 0; i < kMoves; ++i) {
        const bool dev = m.eval(by_device[i], true).is_true();
        const unsigned pc = static_cast<unsigned>(m.eval(run[i].pc, true).get_numeral_uint64());
        const std::string what = dev             ? "device walk"
                                 : pc == dropped ? std::string("(skipped) ") + step_name(pc)
                                                 : step_name(pc);
        out.model.push_back("move " + std::to_string(i) + " = " + what);
      }
      const bool tlb = m.eval(run[kMoves].tlb, true).is_true();
      out.model.push_back(std::string("after the sync: ") +
                          (tlb ? "the IOTLB still translates the unmapped leaf"
                               : "the walk cache still holds the freed table"));
      // The leaf is alone in its table when the unmap empties it, else it has a neighbour.
      out.trace_ops = {emptied ? "map iova=0x200000 paddr=0x40000000 size=4K prot=rw"
                               : "map iova=0x200000 paddr=0x40000000 size=8K prot=rw",
                       "read iova=0x200000", "unmap iova=0x200000 size=4K", "read iova=0x200000"};
      break;
    }
  }
  out.seconds = watch.seconds();
  return out;
}

}  // namespace

Part unmap_part() {
  Part p;
  p.properties = {{"unmap-protocol-invalidates",
                   "clear leaves, report each removed leaf, flush walks before freeing a table, "
                   "sync: afterwards no cached translation of the unmapped range and no walk-cache "
                   "entry of a freed table survives, whenever the device walks",
                   [](unsigned t) { return induction(t); }}};
  for (unsigned s : {kClear, kReport, kFlushWalk, kSync}) {
    p.broken.push_back({std::string("unmap-protocol-invalidates/without-") + (s == kClear       ? "clear"
                                                                : s == kReport    ? "report"
                                                                : s == kFlushWalk ? "flush-walk"
                                                                                  : "sync"),
                        std::string("the unmap protocol without: ") + step_name(s),
                        [s](unsigned t) { return dropped_step(s, t); }});
  }
  return p;
}

}  // namespace iommu::proofs::flush
