// iommu_pgsize for every 64-bit bitmap, iova, paddr and size the core may pass it.
#include <fmt/format.h>

#include <functional>
#include <map>
#include <stdexcept>

#include "proofs/alignment.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

struct PgsizeQuery {
  z3::context& ctx;
  z3::expr bitmap = word(ctx, "bitmap");
  z3::expr iova = word(ctx, "iova");
  z3::expr paddr = word(ctx, "paddr");
  z3::expr size = word(ctx, "size");
  PgsizeModel<z3::expr> c;

  PgsizeQuery(z3::context& context, PgsizeVariant v)
      : ctx(context), c(pgsize_model(bitmap, iova, paddr, size, v)) {}

  // What the core guarantees before it calls: a non-empty bitmap and a request aligned to its
  // smallest page (map and unmap return -EINVAL / 0 otherwise), size != 0 (the loops stop).
  z3::expr precondition() const {
    return bitmap != 0 && size != 0 && aligned(iova | paddr | size, lowest_bit(bitmap));
  }
  Shown shown() const {
    return {{"bitmap", bitmap}, {"iova", iova},     {"paddr", paddr},
            {"size", size},     {"pgsize", c.pgsize}, {"count", c.count}};
  }
};

using Claim = std::function<z3::expr(PgsizeQuery&, Shown&)>;

z3::expr is_pow2(const z3::expr& x) { return x != 0 && (x & (x - 1)) == 0; }

// A size q of the bitmap, larger than the one chosen.
z3::expr larger_size(const PgsizeQuery& q, const z3::expr& s) {
  return is_pow2(s) && (s & q.bitmap) != 0 && z3::ult(q.c.pgsize, s);
}

const std::map<std::string, std::pair<std::string, Claim>>& claims() {
  static const std::map<std::string, std::pair<std::string, Claim>> kClaims{
      {"pgsize-in-bitmap",
       {"for an aligned request iommu_pgsize answers (no BUG_ON) with one size of the bitmap",
        [](PgsizeQuery& q, Shown&) {
          return q.c.defined && is_pow2(q.c.pgsize) && (q.c.pgsize & q.bitmap) != 0;
        }}},
      {"pgsize-aligns",
       {"the chosen pgsize aligns both iova and paddr",
        [](PgsizeQuery& q, Shown&) {
          return aligned(q.iova, q.c.pgsize) && aligned(q.paddr, q.c.pgsize);
        }}},
      {"pgsize-count-fits",
       {"count >= 1 and count * pgsize <= size, without overflow",
        [](PgsizeQuery& q, Shown& shown) {
          shown.emplace_back("count*pgsize", q.c.bytes);
          return q.c.bytes != 0 && z3::ule(q.c.bytes, q.size);
        }}},
      {"pgsize-maximal",
       {"no larger size of the bitmap aligns iova and paddr and fits in size",
        [](PgsizeQuery& q, Shown& shown) {
          const z3::expr s = word(q.ctx, "larger");
          shown.emplace_back("larger", s);
          return !(larger_size(q, s) && aligned(q.iova | q.paddr, s) && z3::ule(s, q.size));
        }}},
      {"pgsize-no-missed-larger",
       {"the pages chosen never run past a point where a larger page could start and fit",
        [](PgsizeQuery& q, Shown& shown) {
          const z3::expr s = word(q.ctx, "larger"), t = word(q.ctx, "at");
          shown.emplace_back("larger", s);
          shown.emplace_back("larger_at_offset", t);
          const z3::expr chunk = q.c.bytes;
          return !(larger_size(q, s) && aligned(q.iova ^ q.paddr, s) && t != 0 &&
                   z3::ult(t, chunk) && aligned(q.iova + t, s) && z3::ule(s, q.size - t));
        }}},
  };
  return kClaims;
}

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
  Stopwatch clock;
  Outcome out;
  for (unsigned k = 0; k < 64; k++) {
    out = decide(ctx, pgsize == ctx.bv_val(uint64_t{1} << k, 64),
                 shl(count, shift) == bytes && shr(bytes, shift) == count, shown,
                 clock.remaining_ms(timeout_ms));
    if (out.status != Status::kProved) break;
  }
  return out;
}

}  // namespace

Property pgsize_property(const std::string& name, PgsizeVariant v) {
  const auto it = claims().find(name);
  if (it == claims().end()) throw std::invalid_argument("no pgsize property " + name);
  const Claim claim = it->second.second;
  const bool with_lemma = name == "pgsize-count-fits";
  return {name, it->second.first, [claim, v, with_lemma](unsigned timeout_ms) {
            Stopwatch clock;
            z3::context ctx;
            PgsizeQuery q(ctx, v);
            Shown shown = q.shown();
            const z3::expr goal = claim(q, shown);
            Outcome out = decide(ctx, q.precondition(), goal, shown, timeout_ms);
            if (out.status == Status::kProved && with_lemma)
              out = shift_lemma(clock.remaining_ms(timeout_ms));
            out.seconds = clock.seconds();
            return out;
          }};
}

}  // namespace iommu::proofs
