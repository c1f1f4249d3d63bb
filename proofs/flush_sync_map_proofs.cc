// (e) Under non-present caching (VT-d caching mode, AMD NpCache) a device may cache "not
// present" for a page; a new mapping of it is visible once an iotlb_sync_map covers it. For
// every sequence of map (map_nosync + iotlb_sync_map), map_nosync, iotlb_sync_map, map_sg
// (runs mapped without sync, then one iotlb_sync_map over them all) and device reads: a page
// that is mapped and was covered by an iotlb_sync_map since it was mapped has no cached fault.
//
// One tracked page x stands for every page (cached faults are per page, of the 4K granule).
// The invalidation iotlb_sync_map sends hits x's page whenever x is in the range: proved for
// VT-d's PSI (vtd-psi-covers; domain-selective above MAMV hits everything) and AMD's chunks
// (amd-npcache-chunks-tile), used here as lemmas.
#include <string>

#include "proofs/flush_parts.h"
#include "proofs/flush_solve.h"

namespace iommu::proofs::flush {
namespace {

using z3::expr;

enum class SyncFlaw { kNone, kMapWithoutSync, kSgSyncsLastRun };

struct State {
  expr mapped, fault, published;  // x is mapped; "not present" is cached; a sync_map covered it
  expr sg_active, sg_mapped_x;    // inside map_sg; x was mapped by its runs
  expr sg_base, sg_cursor, sg_last_run;  // 65 bits: the next run starts at the cursor
};

State state(z3::context& c, const std::string& at) {
  auto b = [&](const char* n) { return c.bool_const((n + at).c_str()); };
  auto w = [&](const char* n) { return c.bv_const((n + at).c_str(), 65); };
  return {b("mapped"),      b("fault"),   b("published"), b("sg_active"),
          b("sg_mapped_x"), w("sg_base"), w("sg_cursor"), w("sg_last_run")};
}

struct Model {
  z3::context& c;
  SyncFlaw flaw;
  expr x;  // the tracked page, 4K-aligned

  expr in(const expr& first, const expr& last) const {
    return z3::ule(first, x) && z3::ule(x + 0xfff, last);
  }
  // Whether iotlb_sync_map over [first, last] removes a cached fault of x's page (the
  // encoder lemmas: at least when x is in the range).
  expr hits(const expr& first, const expr& last) const { return in(first, last); }
  // A page-granular range [first, last] that does not wrap.
  expr range_ok(const expr& first, const expr& last) const {
    return z3::ule(first, last) && (first & 0xfff) == 0 && (last & 0xfff) == 0xfff;
  }
  expr sync_map(const State& s, const State& n, const expr& first, const expr& last) const {
    const expr hit = hits(first, last);
    return n.fault == (s.fault && !hit) && n.published == (s.published || (hit && s.mapped)) &&
           n.mapped == s.mapped;
  }
  expr map_nosync(const State& s, const State& n, const expr& first, const expr& last) const {
    const expr now = in(first, last) && !s.mapped;
    return n.mapped == (s.mapped || now) && n.published == (s.published && !now) &&
           n.fault == s.fault;
  }
  static expr keep_sg(const State& s, const State& n) {
    return n.sg_active == s.sg_active && n.sg_mapped_x == s.sg_mapped_x && n.sg_base == s.sg_base &&
           n.sg_cursor == s.sg_cursor && n.sg_last_run == s.sg_last_run;
  }
  struct Ops {
    expr read, nosync, sync, map, begin, run, end;
  };
  // Each call or device read, with arguments first..last (a map_sg run: mid bytes).
  Ops ops(const State& s, const State& n, const expr& first, const expr& last,
          const expr& mid) const {
    const expr read = n.fault == (s.fault || !s.mapped) && n.mapped == s.mapped &&
                      n.published == s.published && keep_sg(s, n);
    const expr nosync = !s.sg_active && map_nosync(s, n, first, last) && keep_sg(s, n);
    const expr sync = !s.sg_active && sync_map(s, n, first, last) && keep_sg(s, n);
    // map: map_nosync then iotlb_sync_map over the same range (through State mid).
    const State m = state(c, "#mid");
    const expr map = !s.sg_active && map_nosync(s, m, first, last) &&
                     (flaw == SyncFlaw::kMapWithoutSync
                          ? n.mapped == m.mapped && n.fault == m.fault && n.published == m.published
                          : sync_map(m, n, first, last)) &&
                     keep_sg(s, n);
    const expr begin = !s.sg_active && n.sg_active && !n.sg_mapped_x &&
                       n.sg_base == z3::zext(first, 1) && n.sg_cursor == n.sg_base &&
                       n.sg_last_run == n.sg_base && n.mapped == s.mapped && n.fault == s.fault &&
                       n.published == s.published;
    // A run of the scatterlist at the cursor; mid is its length.
    const expr run_last = (s.sg_cursor + z3::zext(mid, 1) - 1);
    const expr run =
        s.sg_active && mid != 0 && (mid & 0xfff) == 0 &&
        z3::ult(run_last, z3::shl(c.bv_val(1, 65), 64)) &&
        map_nosync(s, n, s.sg_cursor.extract(63, 0), run_last.extract(63, 0)) && n.sg_active &&
        n.sg_base == s.sg_base && n.sg_last_run == s.sg_cursor && n.sg_cursor == run_last + 1 &&
        n.sg_mapped_x == (s.sg_mapped_x ||
                          (in(s.sg_cursor.extract(63, 0), run_last.extract(63, 0)) && !s.mapped));
    const expr from = flaw == SyncFlaw::kSgSyncsLastRun ? s.sg_last_run : s.sg_base;
    const expr end = s.sg_active && s.sg_cursor != s.sg_base && !n.sg_active && !n.sg_mapped_x &&
                     n.sg_base == s.sg_base && n.sg_cursor == s.sg_cursor &&
                     n.sg_last_run == s.sg_last_run &&
                     sync_map(s, n, from.extract(63, 0), (s.sg_cursor - 1).extract(63, 0));
    const expr args = range_ok(first, last);
    return {read, args && nosync, args && sync, args && map, args && begin, run, end};
  }
  // The inductive invariant: published pages show no fault; pages mapped by the current
  // map_sg lie between its base and cursor, which only grow apart.
  expr inv(const State& s) const {
    const expr wx = z3::zext(x, 1);
    return z3::implies(s.mapped && s.published, !s.fault) &&
           z3::implies(s.sg_mapped_x, s.sg_active && s.mapped && z3::ule(s.sg_base, wx) &&
                                          z3::ult(wx + 0xfff, s.sg_cursor)) &&
           z3::implies(s.sg_active,
                       z3::ule(s.sg_base, s.sg_last_run) && z3::ule(s.sg_last_run, s.sg_cursor) &&
                           z3::ule(s.sg_cursor, z3::shl(c.bv_val(1, 65), 64)) &&
                           (s.sg_base.extract(11, 0) == 0) && (s.sg_cursor.extract(11, 0) == 0));
  }
};

// One query per call: each keeps the invariant; map publishes what it maps; the end of a
// map_sg publishes what its runs mapped.
Outcome induction(SyncFlaw flaw, unsigned timeout_ms) {
  z3::context c;
  Model m{c, flaw, bv64(c, "x")};
  const State s = state(c, ""), n = state(c, "'");
  const expr first = bv64(c, "first"), last = bv64(c, "last"), len = bv64(c, "len");
  const Model::Ops op = m.ops(s, n, first, last, len);
  const expr pre = (m.x & 0xfff) == 0 && m.inv(s);
  const std::vector<std::pair<const char*, expr>> claims = {
      {"read", z3::implies(op.read, m.inv(n))},
      {"map_nosync", z3::implies(op.nosync, m.inv(n))},
      {"iotlb_sync_map", z3::implies(op.sync, m.inv(n))},
      {"map", z3::implies(op.map, m.inv(n) && z3::implies(n.mapped && !s.mapped, n.published))},
      {"map_sg begin", z3::implies(op.begin, m.inv(n))},
      {"map_sg run", z3::implies(op.run, m.inv(n))},
      {"map_sg end", z3::implies(op.end, m.inv(n) && z3::implies(s.sg_mapped_x, n.published))},
  };
  Outcome total;
  total.status = Status::kProved;
  for (const auto& [call, claim] : claims) {
    Outcome part = decide(z3::implies(pre, claim),
                          {{"x", m.x},
                           {"first", first},
                           {"last", last},
                           {"run length", len},
                           {"map_sg base", s.sg_base},
                           {"map_sg cursor", s.sg_cursor},
                           {"map_sg last run", s.sg_last_run},
                           {"mapped before", s.mapped},
                           {"fault after", n.fault},
                           {"published after", n.published}},
                          timeout_ms, Engine::kBitBlast);
    part.seconds += total.seconds;
    if (part.status != Status::kProved) {
      part.model.insert(part.model.begin(), std::string("call = ") + call);
      return part;
    }
    total = part;
  }
  return total;
}

// A broken variant as a concrete run from nothing mapped: the device reads x (caching the
// fault), then a map or a two-run map_sg covers x, then the device reads x again and still
// faults. Small addresses and sizes keep the trace readable.
Outcome scenario(SyncFlaw flaw, unsigned timeout_ms) {
  z3::context c;
  Model m{c, flaw, bv64(c, "x")};
  const bool sg = flaw == SyncFlaw::kSgSyncsLastRun;
  const int moves = sg ? 5 : 2;
  std::vector<State> st;
  for (int i = 0; i <= moves; ++i) st.push_back(state(c, "@" + std::to_string(i)));
  const expr first = bv64(c, "first"), last = bv64(c, "last");
  const expr len1 = bv64(c, "len1"), len2 = bv64(c, "len2");
  const expr small = c.bv_val(0x4000, 64);
  expr run = !st[0].mapped && !st[0].fault && !st[0].published && !st[0].sg_active &&
             !st[0].sg_mapped_x && (m.x & 0xfff) == 0 && z3::ult(last, c.bv_val(1u << 30, 64)) &&
             z3::ult(last - first, small) && z3::ule(len1, small) && z3::ule(len2, small) &&
             m.ops(st[0], st[1], first, last, len1).read;
  if (sg) {
    run = run && m.ops(st[1], st[2], first, last, len1).begin &&
          m.ops(st[2], st[3], first, last, len1).run &&
          m.ops(st[3], st[4], first, last, len2).run && m.ops(st[4], st[5], first, last, len2).end;
  } else {
    run = run && m.ops(st[1], st[2], first, last, len1).map;
  }
  z3::solver solver(c);
  Stopwatch watch;
  Outcome out;
  switch (satisfiable(solver, run && st[moves].mapped && st[moves].fault, timeout_ms)) {
    case z3::unsat: out.status = Status::kProved; break;
    case z3::unknown:
      out.status = Status::kUnknown;
      out.model.push_back(solver.reason_unknown());
      break;
    case z3::sat: {
      out.status = Status::kCounterexample;
      const z3::model mod = solver.get_model();
      const std::string x = show(mod, m.x), at = show(mod, first);
      out.model = {"x = " + x, "iova = " + at, "the device still faults at x after the call"};
      if (sg) {
        out.model.push_back("run lengths = " + show(mod, len1) + ", " + show(mod, len2));
        // Two physically discontiguous segments: two runs.
        out.trace_ops = {"read iova=" + x,
                         "map_sg iova=" + at + " prot=rw segs=0x40000000+" + show(mod, len1) +
                             ",0x80000000+" + show(mod, len2),
                         "read iova=" + x};
      } else {
        const std::string size = show(mod, last - first + 1);
        out.model.push_back("size = " + size);
        out.trace_ops = {"read iova=" + x,
                         "map iova=" + at + " paddr=0x40000000 size=" + size + " prot=rw",
                         "read iova=" + x};
      }
      break;
    }
  }
  out.seconds = watch.seconds();
  return out;
}

}  // namespace

Part sync_map_part() {
  Part p;
  p.properties = {{"sync-map-visible",
                   "under non-present caching (VT-d caching mode, AMD NpCache) a page mapped by "
                   "map, map_nosync or map_sg is visible (no cached fault) once an iotlb_sync_map "
                   "has covered it, for every sequence of calls and device reads",
                   [](unsigned t) { return induction(SyncFlaw::kNone, t); }}};
  p.broken = {
      {"sync-map-visible/map-without-sync-map", "map is map_nosync alone: no iotlb_sync_map",
       [](unsigned t) { return scenario(SyncFlaw::kMapWithoutSync, t); }},
      {"sync-map-visible/map-sg-syncs-last-run", "map_sg's iotlb_sync_map covers only its last run",
       [](unsigned t) { return scenario(SyncFlaw::kSgSyncsLastRun, t); }},
  };
  return p;
}

}  // namespace iommu::proofs::flush
