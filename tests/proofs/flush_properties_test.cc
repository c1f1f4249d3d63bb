// The flush-visibility properties are proved (all but the slowest), and every broken variant (a historical bug
// re-created or one assumed step dropped) yields a counterexample with concrete values.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "proofs/flush.h"

namespace iommu::proofs {
namespace {

constexpr unsigned kTimeoutMs = 300000;

std::string show(const Outcome& o) {
  std::string s;
  for (const std::string& line : o.model) s += "\n  " + line;
  for (const std::string& line : o.trace_ops) s += "\n  | " + line;
  return s;
}

std::vector<std::string> names(const std::vector<Property>& props) {
  std::vector<std::string> out;
  for (const Property& p : props) out.push_back(p.name);
  return out;
}

const Property& find(const std::vector<Property>& props, const std::string& name) {
  for (const Property& p : props)
    if (p.name == name) return p;
  throw std::logic_error("no property " + name);
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char ch : info.param) out += ch == '-' || ch == '/' ? '_' : ch;
  return out;
}

class FlushProperty : public ::testing::TestWithParam<std::string> {};

TEST_P(FlushProperty, IsProved) {
  const std::vector<Property> props = flush_properties();
  const Outcome o = find(props, GetParam()).prove(kTimeoutMs);
  EXPECT_EQ(o.status, Status::kProved) << show(o);
  RecordProperty("seconds", std::to_string(o.seconds));
}

// All but the three slowest (about 12 s of CPU together, docs/PROOFS.md), which
// `iommucheck prove` runs: CI's time budget is tight.
std::vector<std::string> fast_properties() {
  const std::set<std::string> slow{"smmuv3-single-covers", "sync-map-visible",
                                   "amd-npcache-chunks-tile"};
  std::vector<std::string> out;
  for (const std::string& name : names(flush_properties()))
    if (!slow.contains(name)) out.push_back(name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fast, FlushProperty, ::testing::ValuesIn(fast_properties()), case_name);

class FlushBrokenVariant : public ::testing::TestWithParam<std::string> {};

TEST_P(FlushBrokenVariant, YieldsACounterexample) {
  const std::vector<Property> props = flush_broken_variants();
  const Outcome o = find(props, GetParam()).prove(kTimeoutMs);
  EXPECT_EQ(o.status, Status::kCounterexample) << show(o);
  EXPECT_FALSE(o.model.empty());
}

INSTANTIATE_TEST_SUITE_P(All, FlushBrokenVariant,
                         ::testing::ValuesIn(names(flush_broken_variants())), case_name);

// Properties are kebab-case; a broken variant is PROPERTY/VARIANT.
TEST(FlushCatalogue, NamesAreUniqueKebabCase) {
  std::set<std::string> seen;
  for (const auto& list : {flush_properties(), flush_broken_variants()}) {
    for (const Property& p : list) {
      EXPECT_TRUE(seen.insert(p.name).second) << p.name;
      EXPECT_EQ(p.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-/"),
                std::string::npos)
          << p.name;
      EXPECT_FALSE(p.summary.empty()) << p.name;
    }
  }
}

}  // namespace
}  // namespace iommu::proofs
