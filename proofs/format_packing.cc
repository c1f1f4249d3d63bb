// Output-address packing: every paddr an oas allows survives the trip into a descriptor and
// back, whatever the attribute bits around it.
#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "proofs/format.h"
#include "proofs/solve.h"

namespace iommu::proofs {
namespace {

std::string oas_key(const FormatCase& c) {
  return fmt::format("{} {} {}", c.format.name(), c.format.geo().granule, c.format.geo().oas);
}

// One descriptor kind: a paddr the oas allows, aligned to `align`, written with attribute bits
// outside the address field `field`, read back as `read(paddr, attrs)`.
struct Kind {
  std::string name;
  uint64_t align;
  uint64_t field;
  std::function<z3::expr(const z3::expr&, const z3::expr&)> read;
};

Outcome round_trips(const hw::Geometry& g, const std::vector<Kind>& kinds, z3::context& ctx,
                    unsigned timeout) {
  Stopwatch clock;
  for (const Kind& k : kinds) {
    const z3::expr paddr = word(ctx, "paddr"), attrs = word(ctx, "attribute_bits");
    const z3::expr assume = z3::ult(paddr, ctx.bv_val(uint64_t{1} << g.oas, 64)) &&
                            aligned(paddr, ctx.bv_val(k.align, 64)) &&
                            (attrs & ctx.bv_val(k.field, 64)) == 0;
    const z3::expr back = k.read(paddr, attrs);
    Outcome o = decide(ctx, assume, back == paddr,
                       {{"paddr", paddr}, {"attribute_bits", attrs}, {"paddr_read_back", back}},
                       clock.remaining_ms(timeout));
    if (o.status != Status::kProved) {
      o.model.insert(o.model.begin(), "descriptor = " + k.name);
      return o;
    }
  }
  Outcome out;
  out.status = Status::kProved;
  return out;
}

std::vector<Kind> lpae_kinds(const hw::Geometry& g, FormatVariant v) {
  const uint64_t granule = g.granule;
  std::vector<Kind> kinds{{"table", granule, kLpaeAddrMask, [=](const z3::expr& p, const z3::expr& a) {
                             return lpae_unpack(lpae_pack(p, true, v) | a, granule);
                           }}};
  for (unsigned l = g.start_level; l <= g.last_level; l++) {
    const uint64_t size = g.at(l).leaf_size;
    if (size == 0) continue;
    kinds.push_back({fmt::format("level-{} leaf", l), size, kLpaeAddrMask,
                     [=](const z3::expr& p, const z3::expr& a) {
                       return lpae_unpack(lpae_pack(p, false, v) | a, granule);
                     }});
  }
  return kinds;
}

std::vector<Kind> v7s_kinds(const hw::Geometry& g, FormatVariant v) {
  const uint64_t table_mask = v7s_table_mask(v);
  std::vector<Kind> kinds{{"level-2 table", g.at(2).table_bytes, genmask(31, 10),
                           [=](const z3::expr& p, const z3::expr& a) {
                             return v7s_unpack(p | a, table_mask);
                           }}};
  for (uint64_t sizes = g.pgsize_bitmap; sizes; sizes &= sizes - 1) {
    const uint64_t size = sizes & -sizes;
    const uint64_t mask = genmask(31, ffs64_idx(size));
    kinds.push_back({fmt::format("{:#x} leaf", size), size, mask,
                     [=](const z3::expr& p, const z3::expr& a) { return v7s_unpack(p | a, mask); }});
  }
  return kinds;
}

std::vector<Kind> dart_kinds(const hw::Format& f, FormatVariant v) {
  const bool dart2 = f.id() == hw::FormatId::kAppleDart2;
  const uint64_t field = dart2 ? genmask(37, 10) : genmask(35, 12);
  auto read = [=](const z3::expr& p, const z3::expr& a) {
    return dart_unpack(dart_pack(p, dart2, v) | a, dart2);
  };
  return {{"table", f.geo().granule, field, read}, {"leaf", f.geo().granule, field, read}};
}

struct PackingSpec {
  const char* summary;
  hw::Family family;
};

const std::map<std::string, PackingSpec>& specs() {
  static const std::map<std::string, PackingSpec> kSpecs{
      {"lpae-paddr-roundtrip",
       {"every LPAE table and leaf paddr below 2^oas (52-bit PA in PTE[15:12] included) is read "
        "back from its descriptor unchanged, whatever the attribute bits",
        hw::Family::kLpae}},
      {"v7s-paddr-roundtrip",
       {"every v7s level-2 table and leaf paddr below 2^oas is read back unchanged",
        hw::Family::kV7s}},
      {"dart-paddr-roundtrip",
       {"every DART table and page paddr below 2^oas (DART2's PA >> 4 included) is read back "
        "unchanged",
        hw::Family::kDart}},
  };
  return kSpecs;
}

std::vector<Kind> kinds_for(const FormatCase& c, FormatVariant v) {
  switch (c.format.family()) {
    case hw::Family::kLpae: return lpae_kinds(c.format.geo(), v);
    case hw::Family::kV7s: return v7s_kinds(c.format.geo(), v);
    case hw::Family::kDart: return dart_kinds(c.format, v);
    case hw::Family::kAmdV1:
    case hw::Family::kVtdSs:
    case hw::Family::kX86_64:
    case hw::Family::kRiscv: break;  // not modelled: format_cases() leaves them out
  }
  throw std::logic_error("unmodelled format family");
}

}  // namespace

Property packing_property(const std::string& name, FormatVariant v) {
  const auto it = specs().find(name);
  if (it == specs().end()) throw std::invalid_argument("no packing property " + name);
  const PackingSpec spec = it->second;
  return {name, spec.summary, [spec, v](unsigned timeout_ms) {
            std::vector<const FormatCase*> cases = distinct_cases(oas_key);
            std::erase_if(cases,
                          [&](const FormatCase* c) { return c->format.family() != spec.family; });
            return over_cases(
                cases,
                [&](const FormatCase& c, z3::context& ctx, unsigned t) {
                  return round_trips(c.format.geo(), kinds_for(c, v), ctx, t);
                },
                timeout_ms);
          }};
}

}  // namespace iommu::proofs
