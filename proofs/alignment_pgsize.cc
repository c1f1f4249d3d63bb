// iommu_pgsize for every 64-bit bitmap, iova, paddr and size the core may pass it.
#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "proofs/alignment.h"

namespace iommu::proofs {
namespace {

using F = ChoiceFact;

// The models reason about count * pgsize as `bytes`, size & ~(pgsize - 1); this is the lemma
// that it is count << log2(pgsize) with count = size >> log2(pgsize), for every size and every
// power-of-two pgsize (so bytes != 0 iff count >= 1, and no overflow).
Outcome shift_lemma(unsigned timeout_ms) {
  z3::context ctx;
  const z3::expr size = word(ctx, "size"), pgsize = word(ctx, "pgsize");
  const z3::expr shift = log2_pow2(pgsize);
  const z3::expr count = shr(size, shift), bytes = size & ~(pgsize - 1);
  const Shown shown{{"size", size}, {"pgsize", pgsize}, {"count", count}, {"bytes", bytes}};
  // One query per power of two: with the shift a constant Z3 needs no barrel shifter.
  std::vector<Step> steps;
  for (unsigned k = 0; k < 64; k++)
    steps.push_back([&, k](unsigned t) {
      return decide(ctx, pgsize == ctx.bv_val(uint64_t{1} << k, 64),
                    shl(count, shift) == bytes && shr(bytes, shift) == count, shown, t);
    });
  return all_of(steps, timeout_ms);
}

// pgsize_next(bitmap, q) for any power of two q: when not 0, the smallest size of the bitmap
// above q; and every larger size s of the bitmap is at least it, so whatever s aligns, it
// aligns too.
Outcome next_lemma(unsigned timeout_ms) {
  z3::context ctx;
  const z3::expr bitmap = word(ctx, "bitmap"), q = word(ctx, "pgsize");
  const z3::expr s = word(ctx, "larger"), x = word(ctx, "x");
  const z3::expr next = pgsize_next(bitmap, q);
  const z3::expr is_larger = is_pow2(s) && (s & bitmap) != 0 && z3::ult(q, s);
  const z3::expr claim =
      z3::implies(next != 0, is_pow2(next) && (next & bitmap) != 0 && z3::ult(q, next)) &&
      z3::implies(is_larger,
                  next != 0 && z3::ule(next, s) && z3::implies(aligned(x, s), aligned(x, next)));
  return decide(ctx, is_pow2(q), claim,
                {{"bitmap", bitmap}, {"pgsize", q}, {"larger", s}, {"next", next}}, timeout_ms,
                Engine::kBitBlast);
}

// The chunk never runs past a point t where a page of the next size up could start and fit,
// for any choice meeting the facts (maximality instantiated at that size). With next_lemma
// this covers every larger size: one that could start at t makes the next size up start there.
Outcome no_missed_next(PgsizeVariant v, unsigned timeout_ms) {
  z3::context ctx;
  const PgsizeInputs in(ctx, false);
  const FreeChoice c(in, v);
  const z3::expr next = pgsize_next(in.bitmap, c.pgsize), t = word(ctx, "at");
  const z3::expr next_is_larger =
      is_pow2(next) && (next & in.bitmap) != 0 && z3::ult(c.pgsize, next);
  const z3::expr maximal = !(aligned(in.iova | in.paddr, next) && z3::ule(next, in.size));
  Shown shown = in.shown();
  shown.emplace_back("pgsize", c.pgsize);
  shown.emplace_back("count*pgsize", c.chunk.bytes);
  shown.emplace_back("larger", next);
  shown.emplace_back("larger_at_offset", t);
  const z3::expr missed = aligned(in.iova ^ in.paddr, next) && t != 0 &&
                          z3::ult(t, c.chunk.bytes) && aligned(in.iova + t, next) &&
                          z3::ule(next, in.size - t);
  return decide(ctx, in.precondition() && c.facts && next_is_larger && maximal, !missed, shown,
                timeout_ms, Engine::kBitBlast);
}

struct PgsizeSpec {
  const char* summary;
  std::vector<Step> (*steps)(PgsizeVariant v);
};

const std::map<std::string, PgsizeSpec>& specs() {
  static const std::map<std::string, PgsizeSpec> kSpecs{
      {"pgsize-in-bitmap",
       {"for an aligned request iommu_pgsize answers (no BUG_ON) with one size of the bitmap",
        [](PgsizeVariant v) {
          return std::vector<Step>{
              [v](unsigned t) { return choice_facts({F::kInBitmap}, v, false, t); }};
        }}},
      {"pgsize-aligns",
       {"the chosen pgsize aligns both iova and paddr",
        [](PgsizeVariant v) {
          return std::vector<Step>{
              [v](unsigned t) { return choice_facts({F::kAligns}, v, false, t); }};
        }}},
      {"pgsize-count-fits",
       {"count >= 1 and count * pgsize <= size, without overflow",
        [](PgsizeVariant v) {
          return std::vector<Step>{
              [v](unsigned t) {
                return choice_facts({F::kInBitmap, F::kAligns, F::kFitsSize}, v, false, t);
              },
              [v](unsigned t) { return chunk_fits(v, false, t); }, shift_lemma};
        }}},
      {"pgsize-maximal",
       {"no larger size of the bitmap aligns iova and paddr and fits in size",
        [](PgsizeVariant v) {
          return std::vector<Step>{
              [v](unsigned t) { return choice_facts({F::kMaximal}, v, false, t); }};
        }}},
      {"pgsize-no-missed-larger",
       {"the pages chosen never run past a point where a larger page could start and fit",
        [](PgsizeVariant v) {
          return std::vector<Step>{[v](unsigned t) {
                                     return choice_facts(
                                         {F::kInBitmap, F::kAligns, F::kFitsSize, F::kMaximal}, v,
                                         false, t);
                                   },
                                   next_lemma, [v](unsigned t) { return no_missed_next(v, t); }};
        }}},
  };
  return kSpecs;
}

}  // namespace

Property pgsize_property(const std::string& name, PgsizeVariant v) {
  const auto it = specs().find(name);
  if (it == specs().end()) throw std::invalid_argument("no pgsize property " + name);
  const PgsizeSpec spec = it->second;
  return {name, spec.summary,
          [spec, v](unsigned timeout_ms) { return all_of(spec.steps(v), timeout_ms); }};
}

}  // namespace iommu::proofs
