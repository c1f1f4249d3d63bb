// (b) Every invalidation encoder covers what it is asked to, in commands the hardware accepts.
#include <string>

#include "proofs/flush_encode.h"
#include "proofs/flush_parts.h"
#include "proofs/flush_solve.h"

namespace iommu::proofs::flush {
namespace {

using word::k;
using z3::expr;

// Broken variants ask for a counterexample below 4G and at most 64K long, which reads better
// than Z3's first pick; the property itself has no such bound.
expr readable(bool on, const expr& first, const expr& last) {
  if (!on) return first.ctx().bool_val(true);
  return z3::ult(last, k(last, uint64_t{1} << 32)) && z3::ult(last - first, k(last, 0x10000));
}

expr covers(const Span<expr>& s, const expr& first, const expr& last) {
  return z3::ule(s.first, first) && z3::ule(last, s.last);
}

// AMD: the S-bit address word's block holds [start, last]; S is set iff more than one page.
Outcome amd_covers(AmdFlaw flaw, unsigned timeout_ms) {
  z3::context c;
  const expr start = bv64(c, "start"), last = bv64(c, "last");
  const expr address = amd_inv_address(start, last, flaw);
  const Span<expr> span = amd_pages_span(address);
  const expr one_page = word::lshr(start, 12u) == word::lshr(last, 12u);
  const expr claim =
      z3::implies(z3::ule(start, last) && readable(flaw != AmdFlaw::kNone, start, last),
                  covers(span, start, last) && (one_page == ((address & 1) == 0)));
  return decide(claim,
                {{"start", start},
                 {"last", last},
                 {"address", address},
                 {"covered.first", span.first},
                 {"covered.last", span.last}},
                timeout_ms);
}

// AMD under NpCache: the loop of impl/iommu_driver_amd.cc tiles [first, last] with naturally
// aligned blocks of whole pages, each sent as a command covering exactly that block. Proved
// as an inductive invariant: address + size == last + 1 with both page-aligned.
Outcome amd_np_chunks(bool inclusive_end_flaw, unsigned timeout_ms) {
  z3::context c;
  const expr first = bv64(c, "first"), last = bv64(c, "last");
  const expr ghost = c.bv_const("address", 65), size = bv64(c, "size");
  const expr address = ghost.extract(63, 0);
  const expr page = k(first, 0xfff);
  auto wide = [](const expr& e) { return z3::zext(e, 1); };
  auto inv = [&](const expr& a, const expr& s) {
    return a + wide(s) == wide(last) + 1 && (a.extract(63, 0) & page) == 0 && (s & page) == 0 &&
           z3::ult(s, k(s, uint64_t{1} << 52));
  };
  // Linux (since 2212fc2acf3f) passes end - start + 1; before, end - start.
  const expr size0 = inclusive_end_flaw ? last - first : last - first + 1;
  const expr gather = z3::ule(first, last) && readable(inclusive_end_flaw, first, last) &&
                      (first & page) == 0 && (last & page) == page &&
                      z3::ult(last - first, k(first, (uint64_t{1} << 52) - 1));
  const expr init = inv(wide(first), size0);
  const expr chunk = amd_np_chunk(address, size);
  const expr step =
      z3::implies(inv(ghost, size) && size != 0,
                  chunk != 0 && (chunk & (chunk - 1)) == 0 && z3::ule(chunk, size) &&
                      (address & (chunk - 1)) == 0 && inv(ghost + wide(chunk), size - chunk));
  Outcome loop = decide(z3::implies(gather, init && step),
                        {{"first", first},
                         {"last", last},
                         {"initial size", size0},
                         {"address", address},
                         {"size", size},
                         {"chunk", chunk}},
                        timeout_ms, Engine::kDefault);
  if (loop.status != Status::kProved) return loop;
  // Each chunk the loop sends (a naturally aligned power of two of whole pages below 2^52) is
  // encoded exactly.
  const expr block = bv64(c, "block");
  const Span<expr> sent = amd_pages_span(amd_inv_address(address, address + (block - 1)));
  Outcome exact = decide(
      z3::implies((block & (block - 1)) == 0 && z3::ule(k(block, 0x1000), block) &&
                      z3::ult(block, k(block, uint64_t{1} << 52)) && (address & (block - 1)) == 0,
                  sent.first == address && sent.last == address + (block - 1)),
      {{"address", address},
       {"block", block},
       {"covered.first", sent.first},
       {"covered.last", sent.last}},
      timeout_ms);
  exact.seconds += loop.seconds;
  return exact;
}

// VT-d: the PSI block holds [start, last], its address is aligned to it and AM fits the
// six-bit field (a larger AM than MAMV makes the driver go domain-selective, which covers all).
Outcome vtd_covers(VtdFlaw flaw, unsigned timeout_ms) {
  z3::context c;
  const expr start = bv64(c, "start"), last = bv64(c, "last");
  const VtdPsi<expr> psi = vtd_psi(start, last, flaw);
  const Span<expr> span = vtd_psi_span(psi.am, psi.addr);
  const expr claim = z3::implies(
      z3::ule(start, last) && readable(flaw != VtdFlaw::kNone, start, last),
      covers(span, start, last) && z3::ule(psi.am, k(start, 52)) && span.first == psi.addr);
  return decide(claim,
                {{"start", start},
                 {"last", last},
                 {"am", psi.am},
                 {"addr", psi.addr},
                 {"covered.first", span.first},
                 {"covered.last", span.last}},
                timeout_ms);
}

// SMMUv3 range TLBI, for one translation granule 2^tg, leaf and walk flushes: the loop's
// commands are valid (never NUM=SCALE=TTL=0, NUM and SCALE fit five bits), tile the pages from
// the first page of iova up to past last contiguously and in order, always progress, and
// carry a TTL naming the leaf size for leaf flushes and no TTL for walk flushes (so blocks of
// any level in the range go). An inductive invariant over (addr, num_pages) with the end
// E = addr + num_pages * 2^tg (88 bits wide, so nothing wraps) fixed; the loop step is proved
// for any TTL and any E up to one page past 2^64, which is what the start establishes.
struct SmmuQuery {
  z3::context c;
  expr top = z3::shl(c.bv_val(1, 88), 64);
  expr end_bound = top;
  unsigned tg;
  explicit SmmuQuery(unsigned t) : tg(t) { end_bound = top + z3::shl(c.bv_val(1, 88), t); }
  static expr wide(const expr& e) { return z3::zext(e, 24); }
  expr bytes(const expr& pages) const { return z3::shl(wide(pages), static_cast<int>(tg)); }
  static expr ttl_ok(const expr& ttl, const expr& n) { return ttl != 0 || (n & 31) != 1; }
};

Outcome smmu_start(unsigned tg, SmmuFlaw flaw, unsigned timeout_ms) {
  SmmuQuery q(tg);
  const expr iova = bv64(q.c, "iova"), last = bv64(q.c, "last"), granule = bv64(q.c, "granule");
  expr granule_ok = q.c.bool_val(false);
  for (unsigned level = 1; level <= 3; ++level)
    granule_ok = granule_ok || granule == k(granule, uint64_t{1} << (tg + (3 - level) * (tg - 3)));
  const SmmuRangeStart<expr> leaf = smmu_range_start(iova, last, granule, true, tg, flaw);
  const SmmuRangeStart<expr> walk = smmu_range_start(iova, last, granule, false, tg, flaw);
  auto spans = [&](const SmmuRangeStart<expr>& s) {
    const expr end = SmmuQuery::wide(s.addr) + q.bytes(s.num_pages);
    return z3::ule(SmmuQuery::wide(s.addr), SmmuQuery::wide(iova)) &&
           z3::ult(SmmuQuery::wide(last), end) && z3::ule(end, q.end_bound) &&
           SmmuQuery::ttl_ok(s.ttl, s.num_pages);
  };
  const expr claim = z3::implies(
      z3::ule(iova, last) && granule_ok && readable(flaw != SmmuFlaw::kNone, iova, last) &&
          (flaw != SmmuFlaw::kTtlOnWalk || granule == k(granule, uint64_t{1} << tg)),
      spans(leaf) && spans(walk) && smmu_ttl_leaf_size(leaf.ttl, tg) == granule && walk.ttl == 0);
  return decide(claim,
                {{"iova", iova},
                 {"last", last},
                 {"granule", granule},
                 {"walk: num_pages", walk.num_pages},
                 {"walk: ttl", walk.ttl},
                 {"walk: first SCALE", smmu_range_step(walk.num_pages).scale},
                 {"walk: first NUM", smmu_range_step(walk.num_pages).num - 1}},
                timeout_ms);
}

Outcome smmu_step(unsigned tg, unsigned timeout_ms) {
  SmmuQuery q(tg);
  const expr addr = bv64(q.c, "addr"), num_pages = bv64(q.c, "num_pages"), ttl = bv64(q.c, "ttl");
  const expr end = q.c.bv_const("end", 88);
  const SmmuRangeStep<expr> st = smmu_range_step(num_pages);
  const Span<expr> sent = smmu_range_span(addr, st.scale, st.num, tg);
  const expr reached = SmmuQuery::wide(addr) + q.bytes(st.pages);
  const expr rest = num_pages - st.pages;
  const expr tg_mask = word::low_mask(addr, tg);
  const expr inv = num_pages != 0 && (addr & tg_mask) == 0 && z3::ule(ttl, k(ttl, 3)) &&
                   SmmuQuery::wide(addr) + q.bytes(num_pages) == end && z3::ule(end, q.end_bound) &&
                   SmmuQuery::ttl_ok(ttl, num_pages);
  const expr valid = z3::ule(k(addr, 1), st.num) && z3::ule(st.num, k(addr, 32)) &&
                     z3::ule(st.scale, k(addr, 31)) && !(st.num == 1 && st.scale == 0 && ttl == 0);
  const expr step =
      valid && z3::ule(k(addr, 1), st.pages) && z3::ule(st.pages, num_pages) &&
      sent.first == addr &&
      SmmuQuery::wide(sent.last) + 1 == z3::ite(z3::ult(reached, q.top), reached, q.top) &&
      z3::implies(rest != 0, z3::ult(reached, q.top) &&
                                 ((addr + word::shl(st.pages, tg)) & tg_mask) == 0 &&
                                 SmmuQuery::ttl_ok(ttl, rest));
  return decide(z3::implies(inv, step),
                {{"addr", addr},
                 {"num_pages", num_pages},
                 {"ttl", ttl},
                 {"SCALE", st.scale},
                 {"NUM", st.num - 1}},
                timeout_ms);
}

// Both halves: the start of the loop and its step.
Outcome smmu_range(unsigned tg, SmmuFlaw flaw, unsigned timeout_ms) {
  Outcome start = smmu_start(tg, flaw, timeout_ms);
  if (start.status != Status::kProved) return start;
  Outcome step = smmu_step(tg, timeout_ms);
  step.seconds += start.seconds;
  return step;
}

// SMMUv3 without range invalidation: for every granule a leaf or a walk flush may name (the
// page and block sizes of the 4K, 16K and 64K translation granules) and every aligned block
// of that size overlapping [iova, last], one of the commands is at the block's base, so its
// TG=0 page hits the block (hits_leaf and hits_table go by overlap). Constant shifts, one query
// each; the commands are TG=0 with NUM = SCALE = TTL = 0 by construction, the only valid
// single-address form.
Outcome smmu_single(SmmuSingleFlaw flaw, unsigned timeout_ms) {
  Outcome total;
  total.status = Status::kProved;
  for (unsigned shift : {12u, 21u, 30u, 14u, 25u, 36u, 16u, 29u, 42u}) {
    z3::context c;
    const expr iova = bv64(c, "iova"), last = bv64(c, "last"), block = bv64(c, "block");
    const SmmuSingle<expr> s = smmu_single_start(iova, last, shift, flaw);
    const expr i = word::lshr(block, shift) - word::lshr(iova, shift);
    const expr addr = smmu_single_addr(s, i, shift);
    const expr size_m1 = k(block, (uint64_t{1} << shift) - 1);
    const expr overlaps =
        (block & size_m1) == 0 && z3::ule(block, last) && z3::ule(iova, block + size_m1);
    const expr page = addr & k(addr, ~uint64_t{0xfff});
    const expr claim = z3::implies(
        z3::ule(iova, last) && overlaps && readable(flaw != SmmuSingleFlaw::kNone, iova, last),
        z3::ult(i, s.count) && z3::ule(block, page) && z3::ule(page, block + size_m1));
    Outcome o = decide(claim,
                       {{"granule", k(iova, uint64_t{1} << shift)},
                        {"iova", iova},
                        {"last", last},
                        {"block", block},
                        {"commands", s.count},
                        {"command index", i}},
                       timeout_ms);
    o.seconds += total.seconds;
    if (o.status != Status::kProved) return o;
    total = o;
  }
  return total;
}

Property prop(std::string name, std::string summary, std::function<Outcome(unsigned)> f) {
  return {std::move(name), std::move(summary), std::move(f)};
}

}  // namespace

Part encoder_part() {
  Part p;
  p.properties = {
      prop("amd-inv-address-covers",
           "AMD's S-bit address (build_inv_address) names an aligned block holding [start, last], "
           "and sets S exactly when the range spans more than one page",
           [](unsigned t) { return amd_covers(AmdFlaw::kNone, t); }),
      prop("amd-npcache-chunks-tile",
           "under NpCache the AMD flush loop sends naturally aligned whole-page blocks that tile "
           "the gathered range exactly, each command covering exactly its block",
           [](unsigned t) { return amd_np_chunks(false, t); }),
      prop(
          "vtd-psi-covers",
          "VT-d's page-selective invalidation (calculate_psi_aligned_address) covers [start, last] "
          "with an aligned address and an AM that fits its field",
          [](unsigned t) { return vtd_covers(VtdFlaw::kNone, t); }),
  };
  p.properties.push_back(
      prop("smmuv3-single-covers",
           "SMMUv3 without range invalidation sends a single-address command at every leaf- or "
           "page-sized block overlapping the range, in the only valid TG=0 form",
           [](unsigned t) { return smmu_single(SmmuSingleFlaw::kNone, t); }));
  for (unsigned tg : {12u, 14u, 16u}) {
    const std::string g = tg == 12 ? "4k" : tg == 14 ? "16k" : "64k";
    p.properties.push_back(prop(
        "smmuv3-range-covers-" + g,
        "SMMUv3 range TLBIs with a " + g +
            " granule are valid, tile the range in order and always progress; leaf flushes name "
            "the leaf size in TTL, walk flushes name none",
        [tg](unsigned t) { return smmu_range(tg, SmmuFlaw::kNone, t); }));
  }
  p.broken = {
      prop("amd-inv-address-covers/parenthesis", "BUGS 10: address |= 1 << (msb - 1)",
           [](unsigned t) { return amd_covers(AmdFlaw::kParenthesis, t); }),
      prop("amd-npcache-chunks-tile/inclusive-end", "2212fc2acf3f: the flush size is end - start",
           [](unsigned t) { return amd_np_chunks(true, t); }),
      prop("vtd-psi-covers/no-widen",
           "59bf3557cf2f: the PSI mask is not widened for an "
           "unaligned start",
           [](unsigned t) { return vtd_covers(VtdFlaw::kNoWiden, t); }),
      prop("vtd-psi-covers/stale-pages",
           "0a3f6b346301: the page count is not recomputed after "
           "widening",
           [](unsigned t) { return vtd_covers(VtdFlaw::kStalePages, t); }),
      prop("smmuv3-single-covers/no-last-page",
           "the command count misses the granule holding the range's last byte",
           [](unsigned t) { return smmu_single(SmmuSingleFlaw::kNoLastPage, t); }),
      prop("smmuv3-range-covers-4k/num-scale-ttl-zero",
           "eb6c97647be2: a one-page walk flush is sent as NUM=SCALE=TTL=0",
           [](unsigned t) { return smmu_range(12, SmmuFlaw::kNoNumBump, t); }),
      prop("smmuv3-range-covers-4k/ttl-on-walk",
           "6833b8f2e199: walk flushes carry the TTL of the nominal granule",
           [](unsigned t) { return smmu_range(12, SmmuFlaw::kTtlOnWalk, t); }),
      // The same two bugs with the other granules, so every SMMUv3 property has its variant.
      prop("smmuv3-range-covers-16k/num-scale-ttl-zero", "eb6c97647be2 with the 16K granule",
           [](unsigned t) { return smmu_range(14, SmmuFlaw::kNoNumBump, t); }),
      prop("smmuv3-range-covers-64k/ttl-on-walk", "6833b8f2e199 with the 64K granule",
           [](unsigned t) { return smmu_range(16, SmmuFlaw::kTtlOnWalk, t); }),
  };
  return p;
}

}  // namespace iommu::proofs::flush
