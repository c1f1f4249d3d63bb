// The facts about iommu_pgsize that the alignment and split proofs build on. Z3 decides the
// whole model in one query slowly (tens of seconds); in two halves it is fast: what the choice
// of pgsize satisfies, on the full masks, then what the chunk makes of any choice satisfying it.
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <tuple>

#include "proofs/alignment.h"

namespace iommu::proofs {

PgsizeInputs::PgsizeInputs(z3::context& ctx, bool unmap)
    : bitmap(word(ctx, "bitmap")),
      iova(word(ctx, "iova")),
      paddr(unmap ? iova : word(ctx, "paddr")),
      size(word(ctx, "size")) {}

z3::expr PgsizeInputs::precondition() const {
  return bitmap != 0 && size != 0 && aligned(iova | paddr | size, lowest_bit(bitmap));
}

Shown PgsizeInputs::shown() const {
  return {{"bitmap", bitmap}, {"iova", iova}, {"paddr", paddr}, {"size", size}};
}

z3::expr is_pow2(const z3::expr& x) { return x != 0 && (x & (x - 1)) == 0; }

namespace {

const char* describe(ChoiceFact f) {
  switch (f) {
    case ChoiceFact::kInBitmap:
      return "the chosen pgsize is a size of the bitmap";
    case ChoiceFact::kAligns:
      return "the chosen pgsize aligns iova and paddr";
    case ChoiceFact::kFitsSize:
      return "the chosen pgsize is at most size";
    case ChoiceFact::kMaximal:
      return "no larger size of the bitmap aligns iova and paddr and fits";
  }
  return "?";
}

z3::expr fact_claim(ChoiceFact f, const PgsizeInputs& in, const PgsizeChoice<z3::expr>& c,
                    Shown& shown) {
  switch (f) {
    case ChoiceFact::kInBitmap:
      return c.defined && is_pow2(c.pgsize) && (c.pgsize & in.bitmap) != 0;
    case ChoiceFact::kAligns:
      return aligned(in.iova, c.pgsize) && aligned(in.paddr, c.pgsize);
    case ChoiceFact::kFitsSize:
      return z3::ule(c.pgsize, in.size);
    case ChoiceFact::kMaximal:
      break;
  }
  const z3::expr s = word(in.size.ctx(), "larger");
  shown.emplace_back("larger", s);
  return !(is_pow2(s) && (s & in.bitmap) != 0 && z3::ult(c.pgsize, s) &&
           aligned(in.iova | in.paddr, s) && z3::ule(s, in.size));
}

Outcome decide_fact(ChoiceFact f, PgsizeVariant v, bool unmap, unsigned timeout_ms) {
  z3::context ctx;
  const PgsizeInputs in(ctx, unmap);
  const PgsizeModel<z3::expr> m = pgsize_model(in.bitmap, in.iova, in.paddr, in.size, v);
  Shown shown = in.shown();
  shown.emplace_back("pgsize", m.pgsize);
  shown.emplace_back("count", m.count);
  const z3::expr claim = fact_claim(f, in, {m.defined, m.pgsize}, shown);
  Outcome out = decide(ctx, in.precondition(), claim, shown, timeout_ms, Engine::kBitBlast);
  if (out.status == Status::kCounterexample)
    out.model.insert(out.model.begin(), fmt::format("failed step = {}", describe(f)));
  return out;
}

// Proofs already made in this process: the facts do not change between properties.
template <class Key>
Outcome once(const Key& key, const Step& step, unsigned timeout_ms) {
  static std::mutex lock;
  static std::map<Key, Outcome> proved;
  std::lock_guard<std::mutex> hold(lock);
  if (const auto it = proved.find(key); it != proved.end()) return it->second;
  Outcome out = step(timeout_ms);
  if (out.status == Status::kProved) proved[key] = out;
  return out;
}

}  // namespace

Outcome choice_facts(const std::vector<ChoiceFact>& facts, PgsizeVariant v, bool unmap,
                     unsigned timeout_ms) {
  std::vector<Step> steps;
  for (ChoiceFact f : facts)
    steps.push_back([=](unsigned t) {
      return once(
          std::make_tuple(f, v, unmap), [=](unsigned u) { return decide_fact(f, v, unmap, u); }, t);
    });
  return all_of(steps, timeout_ms);
}

FreeChoice::FreeChoice(const PgsizeInputs& in, PgsizeVariant v)
    : pgsize(word(in.size.ctx(), "pgsize")),
      chunk(pgsize_chunk(in.bitmap, in.iova, in.paddr, in.size,
                         PgsizeChoice<z3::expr>{in.size.ctx().bool_val(true), pgsize}, v)),
      facts(is_pow2(pgsize) && (pgsize & in.bitmap) != 0 && aligned(in.iova | in.paddr, pgsize) &&
            z3::ule(pgsize, in.size)) {}

Outcome chunk_fits(PgsizeVariant v, bool unmap, unsigned timeout_ms) {
  const auto step = [=](unsigned t) {
    z3::context ctx;
    const PgsizeInputs in(ctx, unmap);
    const FreeChoice c(in, v);
    Shown shown = in.shown();
    shown.emplace_back("pgsize", c.pgsize);
    shown.emplace_back("count*pgsize", c.chunk.bytes);
    const z3::expr b = c.chunk.bytes;
    Outcome out =
        decide(ctx, in.precondition() && c.facts,
               b != 0 && z3::ule(b, in.size) && aligned(b, c.pgsize), shown, t, Engine::kBitBlast);
    if (out.status == Status::kCounterexample)
      out.model.insert(out.model.begin(),
                       "failed step = count * pgsize is non-zero, at most size, whole pages");
    return out;
  };
  return once(std::make_pair(v, unmap), step, timeout_ms);
}

}  // namespace iommu::proofs
