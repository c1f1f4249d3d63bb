// Random operation streams with allocation failures injected at random points, judged by the
// reference after every step; and the bug zoo of this layer: each seeded bug must be caught,
// by the rule that names it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "harness.h"

namespace iommu::iopt::testing {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

RC_GTEST_PROP(IoptCampaign, EveryRuleHoldsUnderRandomOperationsAndFailures, ()) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto batch_runs = *rc::gen::inRange<size_t>(1, 6);
  Scenario s;
  s.layout = UserMemory::scattered_layout(128, *rc::gen::inRange<uint64_t>(1, 12), seed);
  s.config.batch_runs = batch_runs;
  s.config.pin_chunk = *rc::gen::inRange<uint64_t>(1, 20);
  const std::vector<std::string> v = campaign(seed, 150, s);
  RC_ASSERT(v.empty());
  (void)joined;
}

// The first violation of a campaign against `mutant`, over a few seeds; empty if it survived.
std::vector<std::string> kill(Mutant mutant) {
  Scenario s;
  s.config.mutant = mutant;
  s.config.batch_runs = 3;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    s.layout = UserMemory::scattered_layout(128, 8, seed);
    std::vector<std::string> v = campaign(seed, 300, s);
    if (!v.empty()) return v;
  }
  return {};
}

struct Expected {
  Mutant mutant;
  std::string rule;  // the prefix of the violation that must catch it
};

class IoptMutant : public ::testing::TestWithParam<Expected> {};

TEST_P(IoptMutant, IsCaughtByItsRule) {
  const std::vector<std::string> v = kill(GetParam().mutant);
  ASSERT_FALSE(v.empty()) << mutant_name(GetParam().mutant) << " survived";
  const std::string& rule = GetParam().rule;
  const bool by_rule = std::any_of(v.begin(), v.end(), [&](const std::string& line) {
    return line.rfind(rule, 0) == 0;
  });
  EXPECT_TRUE(by_rule) << "not caught by the rule " << rule << ":\n" << joined(v);
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, IoptMutant,
    ::testing::Values(Expected{Mutant::kPinTwice, "pins:"},
                      Expected{Mutant::kUnfilledAttach, "translation:"},
                      Expected{Mutant::kLeakPinOnError, "pins:"},
                      Expected{Mutant::kUnpinAcrossAccess, "pins:"},
                      Expected{Mutant::kMapPerPage, "map calls:"},
                      Expected{Mutant::kKeepXarray, "xarray:"}),
    [](const ::testing::TestParamInfo<Expected>& p) {
      std::string n(mutant_name(p.param.mutant));
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(IoptMutant, EveryMutantHasATest) {
  EXPECT_EQ(std::size(kAllMutants), 6u) << "add the new mutant to the Zoo list above";
}

}  // namespace
}  // namespace iommu::iopt::testing
