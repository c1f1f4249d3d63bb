// (d) The flush queue never hands an IOVA out again before a flush_iotlb_all that started
// after its unmap, for any interleaving over any number of CPUs. Each flush is start++,
// flush, finish++ (three separate moments); CPUs are abstracted by counting (a counter
// abstraction: only how many flushes are in flight matters, not on which CPU), so the proof
// holds for every N, 4 included.
#include "proofs/flush_fq.h"
#include "proofs/flush_parts.h"
#include "proofs/flush_solve.h"

namespace iommu::proofs::flush {
namespace {

using z3::expr;

// The tracked entry E and its tag. Ghost counts: flushes started before E was tagged (sb)
// and after (sa); of the finished ones, how many started before (fb) and after (fa). All are
// integers, at least 0.
struct FqState {
  expr start, finish, tag, sb, sa, fb, fa;
  expr inv() const {
    return start == sb + sa && finish == fb + fa && 0 <= fb && fb <= sb && 0 <= fa && fa <= sa &&
           sb <= tag;
  }
  // E may be freed only if a flush that started after it was tagged has finished.
  expr safe() const { return z3::implies(fq_may_free(tag, finish), fa != 0); }
};

FqState fq_state(z3::context& c, const std::string& suffix) {
  auto v = [&](const char* n) { return c.int_const((n + suffix).c_str()); };
  return {v("start"), v("finish"), v("tag"), v("sb"), v("sa"), v("fb"), v("fa")};
}

// One move of any CPU: a flush starts; a flush that started before the tag finishes; one that
// started after finishes.
expr step(const FqState& s, const FqState& n) {
  const expr unchanged_tag = n.tag == s.tag && n.sb == s.sb;
  const expr begin = n.start == s.start + 1 && n.sa == s.sa + 1 && n.finish == s.finish &&
                     n.fb == s.fb && n.fa == s.fa;
  const expr end_before = s.fb < s.sb && n.finish == s.finish + 1 && n.fb == s.fb + 1 &&
                          n.start == s.start && n.sa == s.sa && n.fa == s.fa;
  const expr end_after = s.fa < s.sa && n.finish == s.finish + 1 && n.fa == s.fa + 1 &&
                         n.start == s.start && n.sa == s.sa && n.fb == s.fb;
  return unchanged_tag && (begin || end_before || end_after);
}

// E is tagged in a state where start >= finish (every finished flush had started).
expr tagging(const FqState& s, FqFlaw flaw) {
  return 0 <= s.finish && s.finish <= s.start && s.tag == fq_tag(s.start, s.finish, flaw) &&
         s.sb == s.start && s.sa == 0 && s.fa == 0 && s.fb == s.finish;
}

Outcome induction(unsigned timeout_ms) {
  z3::context c;
  const FqState s = fq_state(c, ""), n = fq_state(c, "'");
  const std::vector<Shown> shown{{"start", s.start}, {"finish", s.finish}, {"tag", s.tag}};
  // Three small queries: the tagging establishes the invariant, every move keeps it, and it
  // implies safety.
  Outcome total;
  total.status = Status::kProved;
  for (const expr& claim :
       {z3::implies(tagging(s, FqFlaw::kNone), s.inv()),
        z3::implies(s.inv() && step(s, n), n.inv()), z3::implies(s.inv(), s.safe())}) {
    Outcome part = decide(claim, shown, timeout_ms, Engine::kDefault);
    part.seconds += total.seconds;
    if (part.status != Status::kProved) return part;
    total = part;
  }
  return total;
}

// The flawed tag, from tagging through `moves` moves: a concrete interleaving that frees E
// although no flush that started after it has finished.
Outcome bounded(FqFlaw flaw, int moves, unsigned timeout_ms) {
  z3::context c;
  std::vector<FqState> trace;
  for (int i = 0; i <= moves; ++i) trace.push_back(fq_state(c, "@" + std::to_string(i)));
  // Small counters keep the counterexample readable; any start count behaves the same.
  expr run = tagging(trace[0], flaw) && trace[0].start <= 2;
  expr safe = trace[0].safe();
  for (int i = 0; i < moves; ++i) {
    run = run && step(trace[i], trace[i + 1]);
    safe = safe && trace[i + 1].safe();
  }
  std::vector<Shown> shown;
  for (int i = 0; i <= moves; ++i) {
    const std::string at = "@" + std::to_string(i) + " ";
    shown.push_back({at + "start_cnt", trace[i].start});
    shown.push_back({at + "finish_cnt", trace[i].finish});
    shown.push_back({at + "finished, started after the unmap", trace[i].fa});
  }
  shown.push_back({"tag", trace[0].tag});
  return decide(z3::implies(run, safe), shown, timeout_ms, Engine::kDefault);
}

}  // namespace

Part flush_queue_part() {
  Part p;
  p.properties = {
      {"flush-queue-start-counter",
       "an entry tagged with the flush start count is freed only after a flush that "
       "started after its unmap has finished, for any interleaving on any number of CPUs",
       [](unsigned t) { return induction(t); }}};
  p.broken = {{"flush-queue-start-counter/finish-tag",
               "entries tagged with the finish count: a flush in flight at the unmap frees them",
               [](unsigned t) { return bounded(FqFlaw::kFinishTag, 2, t); }}};
  return p;
}

}  // namespace iommu::proofs::flush
