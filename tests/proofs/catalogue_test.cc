// The catalogue's alignment and format properties are proved (all but the three slowest), and
// their broken variants (mutations of the modelled arithmetic, the historical bugs among them)
// give a counterexample. One ctest case each.
#include <gtest/gtest.h>

#include <set>

#include "proofs/flush.h"
#include "proofs/proofs.h"

namespace iommu::proofs {
namespace {


const Property& find(const std::vector<Property>& props, const std::string& name) {
  for (const Property& p : props)
    if (p.name == name) return p;
  throw std::invalid_argument(name);
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class Proved : public ::testing::TestWithParam<std::string> {};

TEST_P(Proved, ByZ3) {
  const Outcome o = find(all_properties(), GetParam()).prove(0);
  std::string model;
  for (const std::string& line : o.model) model += "\n  " + line;
  EXPECT_EQ(o.status, Status::kProved) << model;
}

// Every alignment and format property but the three slowest (about 10, 4 and 3 s of CPU,
// docs/PROOFS.md), which `iommucheck prove` runs; the flush ones are flush_properties_test's.
std::vector<std::string> fast_properties() {
  std::vector<std::string> out;
  const std::set<std::string> slow{"map-sg-merge-maps-once", "table-entries-left",
                                   "pgsize-no-missed-larger"};
  std::set<std::string> flush;
  for (const Property& p : flush_properties()) flush.insert(p.name);
  for (const Property& p : all_properties())
    if (!slow.contains(p.name) && !flush.contains(p.name)) out.push_back(p.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fast, Proved, ::testing::ValuesIn(fast_properties()), case_name);

class Broken : public ::testing::TestWithParam<std::string> {};

TEST_P(Broken, GivesACounterexample) {
  const Outcome o = find(broken_variants(), GetParam()).prove(0);
  EXPECT_EQ(o.status, Status::kCounterexample);
  EXPECT_FALSE(o.model.empty()) << "a counterexample is shown as concrete values";
}

// Every alignment and format broken variant (the flush ones are flush_properties_test's).
std::vector<std::string> broken_names() {
  std::set<std::string> flush;
  for (const Property& p : flush_broken_variants()) flush.insert(p.name);
  std::vector<std::string> out;
  for (const Property& p : broken_variants())
    if (!flush.contains(p.name)) out.push_back(p.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, Broken, ::testing::ValuesIn(broken_names()), case_name);

TEST(Catalogue, NamesAreUniqueAndEveryPropertyHasABrokenVariant) {
  std::set<std::string> seen;
  for (const Property& p : all_properties()) {
    EXPECT_TRUE(seen.insert(p.name).second) << p.name;
    EXPECT_FALSE(p.summary.empty()) << p.name;
  }
  std::set<std::string> broken;
  for (const Property& b : broken_variants()) broken.insert(b.name.substr(0, b.name.find('/')));
  for (const std::string& name : seen) EXPECT_TRUE(broken.contains(name)) << name;
}

}  // namespace
}  // namespace iommu::proofs
