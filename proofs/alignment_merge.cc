// map_sg's merge of physically contiguous segments, for any number of segments: every byte of
// every segment is mapped once, at its own paddr. An inductive invariant over one segment of
// the loop (merge_step), with one tracked segment standing for all.
#include <fmt/format.h>

#include <stdexcept>

#include "proofs/alignment.h"

namespace iommu::proofs {
namespace {

using z3::expr;

// The tracked segment: offset o in the iova range (the lengths before it), paddr p, length l;
// seen once the loop reached it, open while it is in the run not mapped yet.
struct Tracked {
  expr o, p, l, seen, open;
};

Tracked tracked(z3::context& ctx, const std::string& at) {
  return {word(ctx, ("o" + at).c_str()), word(ctx, ("p" + at).c_str()),
          word(ctx, ("l" + at).c_str()), ctx.bool_const(("seen" + at).c_str()),
          ctx.bool_const(("open" + at).c_str())};
}

MergeState<expr> merge_state(z3::context& ctx, const std::string& at) {
  return {word(ctx, ("start" + at).c_str()), word(ctx, ("length" + at).c_str()),
          word(ctx, ("mapped" + at).c_str())};
}

// The run from offset to `end` maps each byte o + b of the tracked segment (b < l) to p + b.
expr holds(const expr& offset, const expr& paddr, const expr& end, const Tracked& t) {
  return z3::ule(offset, t.o) && z3::ule(t.o + t.l, end) && t.p - paddr == t.o - offset;
}

// The end of the open run: the lengths of the segments so far (each step adds its own).
expr total(const MergeState<expr>& s) { return s.mapped + s.length; }

// The runs mapped so far tile [0, mapped); the open run is [mapped, total) without wrapping;
// the tracked segment, once seen, lies in the open run at its paddr or wholly below mapped.
expr invariant(const MergeState<expr>& s, const Tracked& t) {
  return s.length != 0 && z3::ule(s.mapped, total(s)) &&
         z3::implies(t.seen, t.l != 0 && z3::ule(t.o, t.o + t.l) && z3::ule(t.o + t.l, total(s))) &&
         z3::implies(t.seen && t.open, holds(s.mapped, s.start, total(s), t)) &&
         z3::implies(t.seen && !t.open, z3::ule(t.o + t.l, s.mapped));
}

// The tracked segment after segment `seg` at offset `at`: it is this one when `pick`.
Tracked advance(const Tracked& t, const expr& pick, const Segment<expr>& seg, const expr& at,
                const expr& closes) {
  return {z3::ite(pick, at, t.o), z3::ite(pick, seg.paddr, t.p), z3::ite(pick, seg.length, t.l),
          t.seen || pick, pick || (t.open && !closes)};
}

Outcome inductive(MergeVariant v, unsigned timeout_ms) {
  z3::context ctx;
  const MergeState<expr> s = merge_state(ctx, "");
  const expr pick = ctx.bool_const("pick");
  const Tracked t = tracked(ctx, "");
  const Segment<expr> seg{word(ctx, "segment_paddr"), word(ctx, "segment_length")};
  // The segments' lengths add up without wrapping (iova + size does not wrap: iommu_map).
  const expr seg_ok =
      seg.length != 0 && z3::ule(total(s), total(s) + seg.length) && !(pick && t.seen);
  const Shown shown{{"open_run_paddr", s.start},
                    {"open_run_length", s.length},
                    {"open_run_offset", s.mapped},
                    {"segment_paddr", seg.paddr},
                    {"segment_length", seg.length}};
  // Start: the first segment opens the run.
  const Tracked none{t.o, t.p, t.l, ctx.bool_val(false), ctx.bool_val(false)};
  const expr start = z3::implies(
      seg.length != 0, invariant(merge_start(seg),
                                 advance(none, pick, seg, ctx.bv_val(0, 64), ctx.bool_val(false))));
  // Step: the next segment keeps the invariant and adds its length; a run it closes is
  // non-empty, ends where the next starts, and holds the tracked segment if that was open.
  const MergeStep<expr> st = merge_step(s, seg, v);
  const expr closes = st.closed.valid;
  const auto step_when = [&](const expr& c) {
    return z3::implies(
        invariant(s, t) && seg_ok && c,
        invariant(st.next, advance(t, pick, seg, total(s), closes)) &&
            total(st.next) == total(s) + seg.length &&
            z3::implies(closes,
                        st.closed.length != 0 &&
                            st.closed.offset + st.closed.length == st.next.mapped &&
                            z3::implies(t.seen && t.open,
                                        holds(st.closed.offset, st.closed.paddr, total(s), t))));
  };
  // End: the last run is mapped and holds the tracked segment if open.
  const Run<expr> last = merge_last(s, v);
  const expr end = z3::implies(
      invariant(s, t) && t.seen,
      last.valid &&
          z3::implies(t.open, holds(last.offset, last.paddr, last.offset + last.length, t)));
  std::vector<Step> steps;
  // The slow step last, so that a broken variant fails early.
  for (const auto& named : {std::pair{"start", start},
                            {"end", end},
                            {"segment closing the run", step_when(closes)},
                            {"segment continuing the run", step_when(!closes)}})
    // Copies, not structured bindings: clang 14 (the fuzz presets) cannot capture those.
    steps.push_back([&, what = named.first, claim = named.second](unsigned ms) {
      Outcome o = decide(ctx, ctx.bool_val(true), claim, shown, ms, Engine::kBitBlast);
      if (o.status == Status::kCounterexample)
        o.model.insert(o.model.begin(), fmt::format("failed step = {}", what));
      return o;
    });
  return all_of(steps, timeout_ms);
}

// A broken variant as a concrete map_sg call: up to three small segments and a byte of one of
// them that no run, or more than one, maps to its paddr; its trace reads that byte afterwards.
Outcome scenario(MergeVariant v, unsigned timeout_ms) {
  constexpr uint64_t kIova = 0x10000000;
  for (unsigned n = 1; n <= 3; n++) {
    z3::context ctx;
    std::vector<Segment<expr>> segs;
    expr ok = ctx.bool_val(true), offset = ctx.bv_val(0, 64);
    const expr j = word(ctx, "segment"), b = word(ctx, "byte");
    expr x = ctx.bv_val(0, 64), want = x, in_range = ctx.bool_val(false);
    for (unsigned i = 0; i < n; i++) {
      segs.push_back({word(ctx, fmt::format("paddr{}", i).c_str()),
                      word(ctx, fmt::format("length{}", i).c_str())});
      const Segment<expr>& sg = segs.back();
      ok = ok && sg.length != 0 && z3::ule(sg.length, ctx.bv_val(0x4000, 64)) &&
           (sg.length & 0xfff) == 0 && (sg.paddr & 0xfff) == 0 &&
           z3::ule(sg.paddr, ctx.bv_val(0x10000000, 64)) &&
           z3::ule(ctx.bv_val(0x1000000, 64), sg.paddr);
      const expr here = j == ctx.bv_val(i, 64);
      x = z3::ite(here, offset + b, x);
      want = z3::ite(here, sg.paddr + b, want);
      in_range = in_range || (here && z3::ult(b, sg.length));
      offset = offset + sg.length;
    }
    // How many runs map the byte at all, and how many to its paddr.
    expr maps = ctx.bv_val(0, 64), hits = maps;
    const expr one = ctx.bv_val(1, 64), zero = ctx.bv_val(0, 64);
    for (const Run<expr>& r : merge_runs(segs, v)) {
      const expr in = r.valid && z3::ule(r.offset, x) && z3::ult(x - r.offset, r.length);
      maps = maps + z3::ite(in, one, zero);
      hits = hits + z3::ite(in && r.paddr + (x - r.offset) == want, one, zero);
    }
    Shown shown{{"iova", ctx.bv_val(kIova, 64) + x}, {"paddr", want}};
    for (unsigned i = 0; i < n; i++) {
      shown.emplace_back(fmt::format("segment{}", i), segs[i].paddr);
      shown.emplace_back(fmt::format("length{}", i), segs[i].length);
    }
    Outcome o = decide(ctx, ok && in_range && (b & 0xfff) == 0, maps == 1 && hits == 1, shown,
                       timeout_ms, Engine::kBitBlast);
    if (o.status != Status::kCounterexample) continue;
    // model: iova, paddr, then segment/length pairs as "name = value".
    auto value = [&](size_t k) { return o.model[k].substr(o.model[k].find("= ") + 2); };
    std::vector<std::string> segs_text;
    for (unsigned i = 0; i < n; i++) segs_text.push_back(value(2 + 2 * i) + "+" + value(3 + 2 * i));
    o.trace_ops = {
        fmt::format("map_sg iova={:#x} prot=rw segs={}", kIova, fmt::join(segs_text, ",")),
        "read iova=" + value(0)};
    o.model.insert(o.model.begin(), "the byte at iova is not mapped exactly once, to paddr");
    return o;
  }
  Outcome none;
  none.status = Status::kUnknown;
  none.model.push_back("no concrete map_sg of up to three segments shows the failure");
  return none;
}

}  // namespace

Property merge_property(const std::string& name, MergeVariant v) {
  if (name != "map-sg-merge-maps-once") throw std::invalid_argument("no merge property " + name);
  return {name,
          "map_sg's merge of physically contiguous segments maps every byte of every segment "
          "exactly once, to its own paddr, for any number of segments",
          [v](unsigned timeout_ms) {
            Stopwatch clock;
            Outcome out = inductive(v, timeout_ms);
            if (out.status == Status::kCounterexample) {
              std::vector<std::string> step = out.model;
              out = scenario(v, clock.remaining_ms(timeout_ms));
              out.model.insert(out.model.end(), step.begin(), step.end());
            }
            out.seconds = clock.seconds();
            return out;
          }};
}

}  // namespace iommu::proofs
