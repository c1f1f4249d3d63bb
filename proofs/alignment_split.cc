// The core's map and unmap loops as inductive invariants over one turn of each, for every
// bitmap, request and page-table answer.
#include <fmt/format.h>

#include <stdexcept>

#include "proofs/alignment.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

// The page table's answer to one call: it takes `bytes`, a whole number of pages of the chosen
// size and at least one, before it stops (a table boundary, say); the turn uses min(that, the
// chunk asked).
struct Room {
  z3::expr bytes;
  z3::expr assumption(const PgsizeModel<z3::expr>& c) const {
    return bytes != 0 && (c.pgsize == 0 || aligned(bytes, c.pgsize));
  }
};

// What the loops rely on from iommu_pgsize(bitmap, iova, paddr, size): an answer, one size of
// the bitmap aligning iova and paddr, and a chunk of whole pages, at least one, inside size.
// choice_facts and chunk_fits prove it of the model; the loop proofs take any choice meeting
// it, which keeps them small: Z3 never sees iommu_pgsize's masks and the loop at once.
z3::expr pgsize_contract(const z3::expr& bitmap, const z3::expr& iova, const z3::expr& paddr,
                         const z3::expr& size, const PgsizeModel<z3::expr>& c) {
  return c.defined && is_pow2(c.pgsize) && (c.pgsize & bitmap) != 0 &&
         aligned(iova | paddr, c.pgsize) && c.bytes != 0 && z3::ule(c.bytes, size) &&
         aligned(c.bytes, c.pgsize);
}

Outcome contract(PgsizeVariant pv, bool unmap, unsigned timeout) {
  using F = ChoiceFact;
  return all_of({[=](unsigned t) {
                   return choice_facts({F::kInBitmap, F::kAligns, F::kFitsSize}, pv, unmap, t);
                 },
                 [=](unsigned t) { return chunk_fits(pv, unmap, t); }},
                timeout);
}

// a <= s and b <= s - a give a + b <= s without wrapping: SAT finds this slowly inside a loop
// query, so it is proved once here and handed to the loop queries as an assumption.
z3::expr no_wrap(const z3::expr& a, const z3::expr& b, const z3::expr& s) {
  return z3::implies(z3::ule(a, s) && z3::ule(b, s - a), z3::ule(a + b, s) && z3::ule(a, a + b));
}

Outcome no_wrap_lemma(unsigned timeout) {
  z3::context ctx;
  const z3::expr a = word(ctx, "a"), b = word(ctx, "b"), s = word(ctx, "s");
  return decide(ctx, ctx.bool_val(true), no_wrap(a, b, s), {{"a", a}, {"b", b}, {"s", s}}, timeout,
                Engine::kBitBlast);
}

// A choice iommu_pgsize might make: free, but meeting the contract.
PgsizeModel<z3::expr> any_choice(z3::context& ctx) {
  const z3::expr pgsize = word(ctx, "pgsize");
  return {ctx.bool_val(true), pgsize, log2_pow2(pgsize), word(ctx, "count"), word(ctx, "bytes")};
}

// A map request [iova0, + size0) -> paddr0, and a state of its loop.
struct MapQuery {
  z3::context& ctx;
  z3::expr bitmap = word(ctx, "bitmap");
  z3::expr iova0 = word(ctx, "iova0"), paddr0 = word(ctx, "paddr0"), size0 = word(ctx, "size0");
  MapState<z3::expr> s{word(ctx, "iova"), word(ctx, "paddr"), word(ctx, "size")};
  Room room{word(ctx, "room")};

  explicit MapQuery(z3::context& context) : ctx(context) {}

  z3::expr min() const { return lowest_bit(bitmap); }
  // iommu_map checks the request is aligned to the smallest page.
  z3::expr request() const { return bitmap != 0 && aligned(iova0 | paddr0 | size0, min()); }
  // done = size0 - size bytes are mapped, from iova0 and paddr0 on, in order.
  z3::expr invariant(const MapState<z3::expr>& t) const {
    const z3::expr done = size0 - t.size;
    return t.iova - iova0 == done && t.paddr - paddr0 == done && z3::ule(t.size, size0) &&
           aligned(t.iova | t.paddr | t.size, min());
  }
  Shown shown(const MapTurn<z3::expr>& turn) const {
    return {{"bitmap", bitmap},      {"iova0", iova0},   {"paddr0", paddr0},
            {"size0", size0},        {"iova", s.iova},   {"paddr", s.paddr},
            {"size", s.size},        {"pgsize", turn.choice.pgsize},
            {"count", turn.choice.count}, {"mapped", turn.mapped}};
  }
};

struct UnmapQuery {
  z3::context& ctx;
  z3::expr bitmap = word(ctx, "bitmap");
  z3::expr iova0 = word(ctx, "iova0"), size = word(ctx, "size");
  UnmapState<z3::expr> s{word(ctx, "iova"), word(ctx, "unmapped")};
  Room room{word(ctx, "room")};

  explicit UnmapQuery(z3::context& context) : ctx(context) {}

  z3::expr min() const { return lowest_bit(bitmap); }
  z3::expr request() const { return bitmap != 0 && aligned(iova0 | size, min()); }
  z3::expr invariant(const UnmapState<z3::expr>& t) const {
    return t.iova - iova0 == t.unmapped && z3::ule(t.unmapped, size) &&
           aligned(t.iova | t.unmapped, min());
  }
  Shown shown(const UnmapTurn<z3::expr>& turn) const {
    return {{"bitmap", bitmap},  {"iova0", iova0},
            {"size", size},      {"iova", s.iova},
            {"unmapped", s.unmapped}, {"pgsize", turn.choice.pgsize},
            {"count", turn.choice.count}, {"unmapped_now", turn.unmapped}};
  }
};

struct SplitSpec {
  const char* name;
  const char* summary;
};

constexpr SplitSpec kSpecs[] = {
    {"map-split-invariant",
     "iommu_map's loop keeps its invariant: done bytes mapped from iova0 and paddr0, the rest "
     "aligned to the smallest page, so iommu_pgsize always has an answer"},
    {"map-split-progress", "each turn of iommu_map's loop maps at least one byte and no more "
                           "than is left, so the loop ends"},
    {"map-split-cover",
     "iommu_map's chunks cover [iova, iova + size) exactly: each starts where the last ended, "
     "stays inside the request, and the loop ends with all of it mapped"},
    {"unmap-split-invariant",
     "iommu_unmap's loop (iova as paddr) keeps its invariant: unmapped bytes removed from iova0 "
     "on, the rest aligned to the smallest page"},
    {"unmap-split-progress", "each turn of iommu_unmap's loop unmaps at least one byte and no "
                             "more than is left, so the loop ends"},
    {"unmap-split-cover",
     "iommu_unmap's chunks cover [iova, iova + size) exactly, in order, without overlap"},
};

const SplitSpec& spec(const std::string& name) {
  for (const SplitSpec& s : kSpecs)
    if (name == s.name) return s;
  throw std::invalid_argument("no split property " + name);
}

// The claim about one turn from state s, given the invariant holds there.
z3::expr map_claim(const std::string& name, const MapQuery& q, const MapTurn<z3::expr>& t) {
  const z3::expr done = q.size0 - q.s.size;
  if (name == "map-split-invariant") return q.invariant(t.next);
  if (name == "map-split-progress") return t.mapped != 0 && z3::ule(t.mapped, q.s.size);
  const z3::expr chunk_inside = q.s.iova - q.iova0 == done && z3::ule(done, done + t.mapped) &&
                                z3::ule(done + t.mapped, q.size0);
  return z3::ite(q.s.size == 0, done == q.size0, chunk_inside);
}

z3::expr unmap_claim(const std::string& name, const UnmapQuery& q, const UnmapTurn<z3::expr>& t) {
  const z3::expr left = q.size - q.s.unmapped;
  if (name == "unmap-split-invariant") return q.invariant(t.next);
  if (name == "unmap-split-progress") return t.unmapped != 0 && z3::ule(t.unmapped, left);
  const z3::expr end = q.s.unmapped + t.unmapped;
  return q.s.iova - q.iova0 == q.s.unmapped && z3::ule(q.s.unmapped, end) && z3::ule(end, q.size);
}

Outcome prove_map(const std::string& name, SplitVariant v, unsigned timeout) {
  z3::context ctx;
  MapQuery q(ctx);
  const PgsizeModel<z3::expr> c = any_choice(ctx);
  const MapTurn<z3::expr> t = map_turn_with(q.s, c, q.room.bytes, v);
  const z3::expr done = q.size0 - q.s.size;
  z3::expr assume = q.request() && q.invariant(q.s) && q.room.assumption(t.choice) &&
                    no_wrap(done, t.mapped, q.size0);
  // The cover claim also speaks of the loop's exit (size == 0); the others of one more turn.
  if (name == "map-split-cover")
    assume = assume && z3::implies(q.s.size != 0, pgsize_contract(q.bitmap, q.s.iova, q.s.paddr,
                                                                   q.s.size, c));
  else
    assume = assume && q.s.size != 0 && pgsize_contract(q.bitmap, q.s.iova, q.s.paddr, q.s.size, c);
  return decide(ctx, assume, map_claim(name, q, t), q.shown(t), timeout, Engine::kBitBlast);
}

Outcome prove_unmap(const std::string& name, SplitVariant v, unsigned timeout) {
  z3::context ctx;
  UnmapQuery q(ctx);
  const PgsizeModel<z3::expr> c = any_choice(ctx);
  const UnmapTurn<z3::expr> t = unmap_turn_with(q.s, c, q.room.bytes, v);
  const z3::expr asked = unmap_asked(q.size, q.s, v);
  const z3::expr assume = q.request() && q.invariant(q.s) && z3::ult(q.s.unmapped, q.size) &&
                          q.room.assumption(t.choice) &&
                          pgsize_contract(q.bitmap, q.s.iova, q.s.iova, asked, c) &&
                          no_wrap(q.s.unmapped, t.unmapped, q.size);
  return decide(ctx, assume, unmap_claim(name, q, t), q.shown(t), timeout, Engine::kBitBlast);
}

}  // namespace

Property split_property(const std::string& name, SplitVariant v, PgsizeVariant pv) {
  const SplitSpec& s = spec(name);
  const bool unmap = name.starts_with("unmap");
  return {s.name, s.summary, [name, v, pv, unmap](unsigned timeout_ms) {
            return all_of({[=](unsigned t) { return contract(pv, unmap, t); }, no_wrap_lemma,
                           [=](unsigned t) {
                             return unmap ? prove_unmap(name, v, t) : prove_map(name, v, t);
                           }},
                          timeout_ms);
          }};
}

}  // namespace iommu::proofs
