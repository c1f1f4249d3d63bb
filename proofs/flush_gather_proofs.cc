// (a) Whatever pages unmap_pages reports, the ranges the gather syncs (early syncs and the
// final iotlb_sync) cover every one of them, at the page size it was added with (Linux's
// rule; AMD commands carry no size, so there only the range counts).
#include "proofs/flush_gather.h"
#include "proofs/flush_parts.h"
#include "proofs/flush_solve.h"

namespace iommu::proofs::flush {
namespace {

using word::k;
using z3::expr;

enum class Rule { kLinux, kAmd };

struct Page {
  expr iova;
  expr size;
  expr sane() const { return size != 0 && z3::ule(iova, iova + (size - 1)); }
};

// What a sync of g issues holds page p (the driver sends nothing for an empty gather).
expr holds(const Gather<expr>& g, const Page& p, Rule rule) {
  const expr in =
      g.pgsize != 0 && z3::ule(g.start, p.iova) && z3::ule(p.iova + (p.size - 1), g.end);
  return rule == Rule::kLinux ? in && g.pgsize == p.size : in;
}

AddPage<expr> add(Rule rule, const Gather<expr>& g, const Page& p, const expr& np_cache,
                  GatherFlaw flaw) {
  return rule == Rule::kLinux ? linux_add_page(g, p.iova, p.size, flaw)
                              : amd_add_page(g, p.iova, p.size, np_cache, flaw);
}

// Inductive: with a tracked page P pending in the gather (the invariant: the gather holds it),
// adding any page Q either keeps P held, or syncs a gather holding P; P itself, once added,
// is held. The final iotlb_sync then covers every pending page.
Outcome induction(Rule rule, unsigned timeout_ms) {
  z3::context c;
  const Gather<expr> g{bv64(c, "start"), bv64(c, "end"), bv64(c, "pgsize")};
  const Page p{bv64(c, "p.iova"), bv64(c, "p.size")};
  const Page q{bv64(c, "q.iova"), bv64(c, "q.size")};
  const expr np_cache = c.bool_const("np_cache");
  const AddPage<expr> step = add(rule, g, q, np_cache, GatherFlaw::kNone);
  const expr pending_kept =
      holds(g, p, rule) && !z3::implies(step.synced, holds(step.sync_arg, p, rule));
  const expr claim = z3::implies(
      p.sane() && q.sane(),
      holds(add(rule, gather_empty(p.iova), p, np_cache, GatherFlaw::kNone).next, p, rule) &&
          holds(step.next, q, rule) && z3::implies(pending_kept, holds(step.next, p, rule)));
  return decide(claim,
                {{"gather.start", g.start},
                 {"gather.end", g.end},
                 {"gather.pgsize", g.pgsize},
                 {"p.iova", p.iova},
                 {"p.size", p.size},
                 {"q.iova", q.iova},
                 {"q.size", q.size}},
                timeout_ms);
}

// A broken rule, from an empty gather: add P, add Q, final sync; is P covered by a sync?
Outcome two_pages(Rule rule, GatherFlaw flaw, unsigned timeout_ms) {
  z3::context c;
  const Page p{bv64(c, "p.iova"), bv64(c, "p.size")};
  const Page q{bv64(c, "q.iova"), bv64(c, "q.size")};
  const expr np_cache = c.bool_const("np_cache");
  const AddPage<expr> first = add(rule, gather_empty(p.iova), p, np_cache, flaw);
  const AddPage<expr> second = add(rule, first.next, q, np_cache, flaw);
  const expr covered = (first.synced && holds(first.sync_arg, p, rule)) ||
                       (second.synced && holds(second.sync_arg, p, rule)) ||
                       holds(second.next, p, rule);
  const auto pow2_page = [](const Page& x) {
    // Pages of 4K to 2M below 4G: any would do, these read well.
    return (x.size & (x.size - 1)) == 0 && z3::uge(x.size, k(x.size, 0x1000)) &&
           z3::ule(x.size, k(x.size, 0x200000)) && z3::ult(x.iova, k(x.iova, uint64_t{1} << 32)) &&
           (x.iova & (x.size - 1)) == 0 && x.sane();
  };
  return decide(z3::implies(pow2_page(p) && pow2_page(q), covered),
                {{"p.iova", p.iova},
                 {"p.size", p.size},
                 {"q.iova", q.iova},
                 {"q.size", q.size},
                 {"np_cache", np_cache},
                 {"synced after q", second.synced},
                 {"final.start", second.next.start},
                 {"final.end", second.next.end},
                 {"final.pgsize", second.next.pgsize}},
                timeout_ms);
}

}  // namespace

Part gather_part() {
  Part p;
  p.properties = {
      {"gather-linux-covers",
       "with iommu_iotlb_gather_add_page, every page added to a gather is covered by an early "
       "sync or the final iotlb_sync, with the page size it was added with",
       [](unsigned t) { return induction(Rule::kLinux, t); }},
      {"gather-amd-covers",
       "with amd_iommu_iotlb_gather_add_page (NpCache on or off), every page added to a gather "
       "is covered by an early sync or the final iotlb_sync",
       [](unsigned t) { return induction(Rule::kAmd, t); }},
  };
  p.broken = {
      {"gather-linux-covers/drops-disjoint", "a disjoint page replaces the gather without a sync",
       [](unsigned t) { return two_pages(Rule::kLinux, GatherFlaw::kDropsDisjoint, t); }},
      {"gather-linux-covers/ignores-pgsize", "a page of another size joins the gather",
       [](unsigned t) { return two_pages(Rule::kLinux, GatherFlaw::kIgnoresPgsize, t); }},
      {"gather-amd-covers/np-drops",
       "under NpCache a disjoint page replaces the gather "
       "without a sync",
       [](unsigned t) { return two_pages(Rule::kAmd, GatherFlaw::kDropsDisjoint, t); }},
  };
  return p;
}

}  // namespace iommu::proofs::flush
