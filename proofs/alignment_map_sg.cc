// map_sg's merge: every byte of every segment is mapped exactly once, to its own paddr.
#include <fmt/format.h>

#include "proofs/alignment.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

// Segments in one call: the merge is unrolled this far (docs/PROOFS.md: what is not proved).
constexpr unsigned kSegments = 5;

struct MapSgQuery {
  z3::context& ctx;
  std::vector<Segment<z3::expr>> segs;
  std::vector<z3::expr> prefix;  // iova offset of each segment
  z3::expr pick = word(ctx, "segment"), offset = word(ctx, "offset");

  explicit MapSgQuery(z3::context& context) : ctx(context) {
    z3::expr at = ctx.bv_val(0, 64);
    for (unsigned j = 0; j < kSegments; j++) {
      segs.push_back({word(ctx, fmt::format("paddr{}", j).c_str()),
                      word(ctx, fmt::format("length{}", j).c_str())});
      prefix.push_back(at);
      at = at + segs.back().length;
    }
  }

  // Non-empty segments (a zero length is -EINVAL) whose total length fits in 64 bits.
  z3::expr assumptions() const {
    z3::expr ok = z3::ult(pick, ctx.bv_val(kSegments, 64));
    for (unsigned j = 0; j < kSegments; j++)
      ok = ok && segs[j].length != 0 && z3::ule(prefix[j], prefix[j] + segs[j].length);
    return ok && z3::ult(offset, chosen([](const auto& s, const auto&) { return s.length; }));
  }

  // A field of the picked segment.
  template <class F>
  z3::expr chosen(F field) const {
    z3::expr v = field(segs[0], prefix[0]);
    for (unsigned j = 1; j < kSegments; j++)
      v = z3::ite(pick == static_cast<int>(j), field(segs[j], prefix[j]), v);
    return v;
  }
};

Outcome prove_map_sg(MergeVariant v, unsigned timeout_ms) {
  z3::context ctx;
  MapSgQuery q(ctx);
  const std::vector<Run<z3::expr>> runs = merge_runs(q.segs, v);
  const z3::expr at = q.chosen([](const auto&, const auto& p) { return p; }) + q.offset;
  const z3::expr want = q.chosen([](const auto& s, const auto&) { return s.paddr; }) + q.offset;
  z3::expr hits = ctx.bv_val(0, 64), right = ctx.bool_val(true);
  for (const Run<z3::expr>& r : runs) {
    const z3::expr covers = r.valid && z3::ule(r.offset, at) && z3::ult(at - r.offset, r.length);
    hits = hits + z3::ite(covers, ctx.bv_val(1, 64), ctx.bv_val(0, 64));
    right = right && z3::implies(covers, r.paddr + (at - r.offset) == want);
  }
  Shown shown{{"segment", q.pick}, {"offset", q.offset}};
  for (unsigned j = 0; j < kSegments; j++) {
    shown.emplace_back(fmt::format("paddr{}", j), q.segs[j].paddr);
    shown.emplace_back(fmt::format("length{}", j), q.segs[j].length);
  }
  shown.emplace_back("runs_covering", hits);
  return decide(ctx, q.assumptions(), hits == 1 && right, shown, timeout_ms);
}

}  // namespace

Property map_sg_property(MergeVariant v) {
  return {"map-sg-merge-cover",
          fmt::format("map_sg's merge of contiguous segments maps every byte of every segment "
                      "exactly once, to its own paddr (up to {} segments)",
                      kSegments),
          [v](unsigned timeout_ms) {
            Stopwatch clock;
            Outcome out = prove_map_sg(v, timeout_ms);
            out.seconds = clock.seconds();
            return out;
          }};
}

}  // namespace iommu::proofs
