// Level geometry: index decomposition, entries left, block size per level, v7s replication.
#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "proofs/format.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

using hw::Geometry;

std::string ias_key(const FormatCase& c) {
  return fmt::format("{} {} {}", c.format.name(), c.format.geo().granule, c.format.geo().ias);
}

z3::expr in_ias(const z3::expr& iova, const Geometry& g) {
  return z3::ult(iova, iova.ctx().bv_val(uint64_t{1} << g.ias, 64));
}

// The iova put back together from its TTBR index, level indices and page offset.
z3::expr recompose(z3::context& ctx, const Geometry& g, const std::vector<z3::expr>& idx,
                   const z3::expr& ttbr, const z3::expr& offset) {
  z3::expr iova = offset | shl(ttbr, ctx.bv_val(g.ttbr_shift, 64));
  for (unsigned l = g.start_level; l <= g.last_level; l++)
    iova = iova | shl(idx[l], ctx.bv_val(g.at(l).shift, 64));
  return iova;
}

hw::LevelGeometry walked(const Geometry& g, unsigned level, FormatVariant v) {
  hw::LevelGeometry lg = g.at(level);
  lg.index_bits = index_bits(g, level, v);
  return lg;
}

Outcome index_bijection(const FormatCase& c, FormatVariant v, z3::context& ctx, unsigned timeout) {
  const Geometry& g = c.format.geo();
  const z3::expr iova = word(ctx, "iova"), ttbr = word(ctx, "ttbr"), off = word(ctx, "offset");
  const uint64_t page_mask = low_mask(g.at(g.last_level).shift);
  // iova -> indices -> iova.
  std::vector<z3::expr> idx(4, ctx.bv_val(0, 64)), picked(4, ctx.bv_val(0, 64));
  for (unsigned l = g.start_level; l <= g.last_level; l++)
    idx[l] = level_index(iova, walked(g, l, v));
  const z3::expr ttbr_of = g.n_ttbrs == 1 ? ctx.bv_val(0, 64)
                                          : shr(iova, g.ttbr_shift) & ctx.bv_val(g.n_ttbrs - 1, 64);
  const z3::expr back = recompose(ctx, g, idx, ttbr_of, iova & ctx.bv_val(page_mask, 64));
  // indices -> iova -> indices.
  z3::expr in_range = z3::ult(ttbr, ctx.bv_val(g.n_ttbrs, 64)) && z3::ule(off, ctx.bv_val(page_mask, 64));
  Shown shown{{"iova", iova}, {"iova_from_indices", back}};
  for (unsigned l = g.start_level; l <= g.last_level; l++) {
    picked[l] = word(ctx, fmt::format("index{}", l).c_str());
    in_range = in_range && z3::ult(picked[l], ctx.bv_val(uint64_t{1} << g.at(l).index_bits, 64));
    shown.emplace_back(fmt::format("level{}_index", l), idx[l]);
  }
  const z3::expr made = recompose(ctx, g, picked, ttbr, off);
  z3::expr same = ctx.bool_val(true);
  for (unsigned l = g.start_level; l <= g.last_level; l++)
    same = same && level_index(made, walked(g, l, v)) == picked[l];
  // DART's level-1 tables are a granule whatever the ias: indices past the ias exist there
  // but are never walked, so the way back is claimed for the iovas inside the ias.
  const z3::expr claim = z3::implies(in_ias(iova, g), back == iova) &&
                         z3::implies(in_range && in_ias(made, g), same);
  return decide(ctx, ctx.bool_val(true), claim, shown, timeout);
}

Outcome entries_left_ok(const FormatCase& c, FormatVariant v, z3::context& ctx, unsigned timeout) {
  const Geometry& g = c.format.geo();
  const z3::expr iova = word(ctx, "iova");
  z3::expr claim = ctx.bool_val(true);
  Shown shown{{"iova", iova}};
  for (unsigned l = g.start_level; l <= g.last_level; l++) {
    const hw::LevelGeometry& lg = g.at(l);
    const z3::expr idx = level_index(iova, lg);
    const z3::expr left = entries_left(iova, g, l, v);
    // Entries past the end of the ias are never asked for: the driver checks the range first.
    const z3::expr ias_pages =
        shr(ctx.bv_val(uint64_t{1} << g.ias, 64) - (iova & ctx.bv_val(~low_mask(lg.shift), 64)),
            lg.shift);
    const z3::expr used = z3::ite(z3::ule(left, ias_pages), left, ias_pages);
    claim = claim && z3::sle(ctx.bv_val(1, 64), left) &&
            z3::ule(idx + used, ctx.bv_val(uint64_t{1} << lg.index_bits, 64));
    shown.emplace_back(fmt::format("level{}_index", l), idx);
    shown.emplace_back(fmt::format("level{}_entries_left", l), left);
  }
  return decide(ctx, in_ias(iova, g), claim, shown, timeout, Engine::kBitBlast);
}

Outcome block_size(const FormatCase& c, FormatVariant v, z3::context& ctx, unsigned timeout) {
  const Geometry& g = c.format.geo();
  const z3::expr iova = word(ctx, "iova"), other = word(ctx, "other"), pa = word(ctx, "leaf_paddr");
  z3::expr claim = ctx.bool_val(true);
  z3::expr same_walk = g.n_ttbrs == 1 ? ctx.bool_val(true)
                                      : (shr(iova ^ other, g.ttbr_shift) &
                                         ctx.bv_val(g.n_ttbrs - 1, 64)) == 0;
  Shown shown{{"iova", iova}, {"other", other}, {"leaf_paddr", pa}};
  for (unsigned l = g.start_level; l <= g.last_level; l++) {
    const hw::LevelGeometry& lg = g.at(l);
    same_walk = same_walk && level_index(iova, lg) == level_index(other, lg);
    if (lg.leaf_size == 0) continue;
    if (lg.leaf_size != uint64_t{1} << lg.shift) {
      Outcome out;
      out.status = Status::kCounterexample;
      out.model.push_back(fmt::format("level {}: leaf size {:#x} but index shift {}", l,
                                      lg.leaf_size, lg.shift));
      return out;
    }
    const z3::expr block = ctx.bv_val(~(lg.leaf_size - 1), 64);
    const z3::expr out = leaf_output(pa, iova, lg.leaf_size, g.granule, v);
    shown.emplace_back(fmt::format("level{}_output", l), out);
    // pa + the offset in the block, in masks (the sum is the OR for an aligned pa; an adder
    // would make Z3 slow): the block's bits are the leaf's, the rest the iova's.
    const z3::expr offset = ctx.bv_val(lg.leaf_size - 1, 64);
    claim = claim && same_walk == ((iova & block) == (other & block)) &&
            z3::implies((pa & offset) == 0,
                        (out & block) == pa && (out & offset) == (iova & offset));
  }
  return decide(ctx, in_ias(iova, g) && in_ias(other, g), claim, shown, timeout,
                Engine::kBitBlast);
}

Outcome v7s_replication(const FormatCase& c, FormatVariant v, z3::context& ctx, unsigned timeout) {
  const Geometry& g = c.format.geo();
  const z3::expr iova = word(ctx, "iova"), t = word(ctx, "offset");
  z3::expr assume = ctx.bool_val(false), claim = ctx.bool_val(true);
  Shown shown{{"iova", iova}, {"offset", t}};
  for (uint64_t sizes = g.pgsize_bitmap; sizes; sizes &= sizes - 1) {
    const uint64_t pgsize = sizes & -sizes;
    const unsigned reps = c.format.replicas(pgsize);
    if (reps == 1 || (uint64_t{1} << g.ias) < pgsize) continue;
    const unsigned level = c.format.leaf_level(pgsize);
    const hw::LevelGeometry& lg = g.at(level);
    const z3::expr idx = replica_index(iova, g, level, pgsize, v);
    const z3::expr x = iova + t;
    z3::expr same_above = ctx.bool_val(true);
    for (unsigned l = g.start_level; l < level; l++)
      same_above = same_above && level_index(x, g.at(l)) == level_index(iova, g.at(l));
    // A page of this size placed where the ias holds it.
    const z3::expr placed = aligned(iova, ctx.bv_val(pgsize, 64)) &&
                            z3::ule(iova, ctx.bv_val((uint64_t{1} << g.ias) - pgsize, 64)) &&
                            z3::ult(t, ctx.bv_val(pgsize, 64));
    assume = assume || placed;
    const z3::expr n = ctx.bv_val(reps, 64);
    const z3::expr entries = ctx.bv_val(uint64_t{1} << lg.index_bits, 64);
    claim = claim && z3::implies(placed, (idx & (n - 1)) == 0 && z3::ule(idx + n, entries) &&
                                             z3::ult(level_index(x, lg) - idx, n) && same_above);
    shown.emplace_back(fmt::format("pgsize_{:#x}_index", pgsize), idx);
  }
  return decide(ctx, assume, claim, shown, timeout);
}

struct GeometrySpec {
  const char* summary;
  Outcome (*one)(const FormatCase&, FormatVariant, z3::context&, unsigned);
  bool v7s_only;
};

const std::map<std::string, GeometrySpec>& specs() {
  static const std::map<std::string, GeometrySpec> kSpecs{
      {"level-index-bijection",
       {"for every format and ias, the TTBR, level indices and page offset of an iova determine "
        "it, and every combination of them is an iova inside the ias",
        index_bijection, false}},
      {"table-entries-left",
       {"the entries a run may fill from an index stay inside the table (concatenated stage-2 "
        "PGDs included) and are at least one",
        entries_left_ok, false}},
      {"level-block-size",
       {"a leaf at each level covers exactly the iovas that walk to its entry, and the walk "
        "adds the iova's offset inside the block to the leaf's paddr",
        block_size, false}},
      {"v7s-replication",
       {"a v7s 64K or 16M leaf's 16 entries start 16-aligned, stay inside one table and are "
        "exactly the entries of its iovas",
        v7s_replication, true}},
  };
  return kSpecs;
}

}  // namespace

Property geometry_property(const std::string& name, FormatVariant v) {
  const auto it = specs().find(name);
  if (it == specs().end()) throw std::invalid_argument("no geometry property " + name);
  const GeometrySpec spec = it->second;
  return {name, spec.summary, [spec, v](unsigned timeout_ms) {
            std::vector<const FormatCase*> cases = distinct_cases(ias_key);
            if (spec.v7s_only)
              std::erase_if(cases, [](const FormatCase* c) {
                return c->format.family() != hw::Family::kV7s;
              });
            return over_cases(
                cases,
                [&](const FormatCase& c, z3::context& ctx, unsigned t) { return spec.one(c, v, ctx, t); },
                timeout_ms);
          }};
}

}  // namespace iommu::proofs
