// The fast subset of the catalogue is proved, and broken variants (mutations of the modelled
// arithmetic, the historical bugs among them) give a counterexample. One ctest case each. The
// slow properties (tens of seconds each, docs/PROOFS.md) run under `iommucheck prove`.
#include <gtest/gtest.h>

#include <set>

#include "proofs/proofs.h"

namespace iommu::proofs {
namespace {

std::vector<std::string> names(const std::vector<Property>& props) {
  std::vector<std::string> out;
  for (const Property& p : props) out.push_back(p.name);
  return out;
}

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

const std::vector<std::string> kFast{"pgsize-in-bitmap", "pgsize-aligns", "pgsize-maximal",
                                     "map-split-progress", "unmap-split-progress",
                                     "v7s-replication", "lpae-paddr-roundtrip",
                                     "v7s-paddr-roundtrip", "dart-paddr-roundtrip"};

INSTANTIATE_TEST_SUITE_P(Fast, Proved, ::testing::ValuesIn(kFast), case_name);

class Broken : public ::testing::TestWithParam<std::string> {};

TEST_P(Broken, GivesACounterexample) {
  const Outcome o = find(broken_variants(), GetParam()).prove(0);
  EXPECT_EQ(o.status, Status::kCounterexample);
  EXPECT_FALSE(o.model.empty()) << "a counterexample is shown as concrete values";
}

const std::vector<std::string> kFastBroken{
    "pgsize-in-bitmap/no-bitmap-mask", "pgsize-aligns/iova-only-alignment",
    "pgsize-maximal/smallest-size",    "table-entries-left/d71fa842d33c",
    "lpae-paddr-roundtrip/9abe2ac83485", "v7s-replication/index-by-page",
    "v7s-paddr-roundtrip/table-address-4k", "dart-paddr-roundtrip/dart2-unshifted"};

INSTANTIATE_TEST_SUITE_P(Fast, Broken, ::testing::ValuesIn(kFastBroken), case_name);

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
