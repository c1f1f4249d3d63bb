// Any Trace prints to text that parses back to the same Trace, and printing is a fixed point.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "base/bits.h"
#include "base/prot.h"
#include "conform/trace.h"

namespace iommu::conform {
namespace {

// Arbitrary 64-bit values mixed with the round sizes that print with a unit.
rc::Gen<uint64_t> gen_number() {
  return rc::gen::oneOf(rc::gen::arbitrary<uint64_t>(),
                        rc::gen::map(rc::gen::pair(rc::gen::inRange<uint64_t>(0, 2048),
                                                   rc::gen::inRange<unsigned>(0, 7)),
                                     [](auto p) { return p.first << (10 * p.second); }));
}

template <class T>
std::optional<T> maybe(const rc::Gen<T>& gen) {
  if (*rc::gen::arbitrary<bool>()) return *gen;
  return std::nullopt;
}

// Gives every field of an op a random value of its kind.
struct Randomize {
  void operator()(std::string_view, uint64_t& v, FieldKind) { v = *gen_number(); }
  void operator()(std::string_view, int& prot, FieldKind) {
    prot = *rc::gen::inRange(0, kProtMask + 1);
  }
  void operator()(std::string_view, GatherLabel& g, FieldKind) {
    g = *rc::gen::arbitrary<GatherLabel>();
  }
  void operator()(std::string_view, std::optional<GatherLabel>& g, FieldKind) {
    g = maybe(rc::gen::arbitrary<GatherLabel>());
  }
  void operator()(std::string_view, bool& flag, FieldKind) { flag = *rc::gen::arbitrary<bool>(); }
  void operator()(std::string_view, std::vector<ref::Segment>& segs, FieldKind) {
    segs.resize(*rc::gen::inRange<size_t>(1, 6));
    for (auto& s : segs) s = {*gen_number(), *gen_number()};
  }
};

rc::Gen<Op> gen_op() {
  return rc::gen::exec([] {
    auto names = op_names();
    Op op = *make_op(names[*rc::gen::inRange<size_t>(0, names.size())]);
    for_each_field(op, Randomize{});
    return op;
  });
}

rc::Gen<ref::DomainConfig> gen_config() {
  return rc::gen::exec([] {
    ref::DomainConfig cfg;
    cfg.ias = *rc::gen::inRange(12u, 65u);
    cfg.oas = *rc::gen::inRange(12u, 65u);
    uint64_t allowed = genmask(std::min({cfg.ias, cfg.oas, 62u}), 0);
    cfg.pgsize_bitmap = *rc::gen::arbitrary<uint64_t>() & allowed;
    if (cfg.pgsize_bitmap == 0) cfg.pgsize_bitmap = bit(*rc::gen::inRange(0u, 13u));
    cfg.partial_unmap = *rc::gen::element(ref::PartialUnmap::kSplit, ref::PartialUnmap::kRefuse,
                                          ref::PartialUnmap::kWhole);
    cfg.np_caching = *rc::gen::arbitrary<bool>();
    cfg.invalidation = *rc::gen::element(ref::Invalidation::kStrict, ref::Invalidation::kLazy);
    return cfg;
  });
}

// One word of printable ASCII or UTF-8 bytes, without '#'.
rc::Gen<std::string> gen_driver() {
  auto ch = rc::gen::suchThat(rc::gen::inRange<int>(0x21, 0x100), [](int c) {
    return c != '#' && c != 0x7f;
  });
  return rc::gen::nonEmpty(rc::gen::container<std::string>(
      rc::gen::map(ch, [](int c) { return static_cast<char>(c); })));
}

rc::Gen<Trace> gen_trace() {
  return rc::gen::exec([] {
    Trace t;
    t.driver = maybe(gen_driver());
    t.config = maybe(gen_config());
    t.iommu = maybe(rc::gen::elementOf(std::vector<IommuKind>(iommu_kinds().begin(),
                                                              iommu_kinds().end())));
    t.seed = maybe(rc::gen::arbitrary<uint64_t>());
    t.ops = *rc::gen::container<std::vector<Op>>(gen_op());
    return t;
  });
}

RC_GTEST_PROP(TraceRoundTrip, PrintedTraceParsesBack, ()) {
  Trace t = *gen_trace();
  std::string text = format_trace(t);
  Trace back = parse_trace(text);
  RC_ASSERT(back == t);
  RC_ASSERT(format_trace(back) == text);
}

RC_GTEST_PROP(TraceRoundTrip, CommentsAreIgnored, ()) {
  Trace t = *gen_trace();
  std::string comment = *rc::gen::arbitrary<std::string>();
  RC_ASSERT(parse_trace(format_trace(t, comment)) == t);
}

RC_GTEST_PROP(TraceRoundTrip, OneOpPerLine, ()) {
  Op op = *gen_op();
  std::string line = format_op(op);
  RC_ASSERT(line.find('\n') == std::string::npos);
  Trace back = parse_trace(line);
  RC_ASSERT(back.ops.size() == 1u);
  RC_ASSERT(back.ops[0] == op);
}

// Equality sees every part: a changed field makes a different trace.
RC_GTEST_PROP(TraceRoundTrip, ChangedTraceDiffers, ()) {
  Trace t = *gen_trace();
  RC_PRE(!t.ops.empty());
  Trace u = parse_trace(format_trace(t));
  size_t i = *rc::gen::inRange<size_t>(0, u.ops.size());
  Op other = *gen_op();
  RC_PRE(!(other == u.ops[i]));
  u.ops[i] = other;
  RC_ASSERT(!(u == t));
}

}  // namespace
}  // namespace iommu::conform
