// Random operation streams with allocation failures injected at random points, judged by the
// reference after every step; and the bug zoo of this layer: each seeded bug must be caught,
// by the rule that names it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "conform/impl_driver.h"
#include "conform/iopt_checker.h"

namespace iommu::iopt::testing {
namespace {

using conform::IoptChecker;
using conform::IoptScenario;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// Contract callers pass aligned ranges; hostile ones also unaligned and wrapping ones.
RC_GTEST_PROP(IoptCampaign, EveryRuleHoldsUnderRandomOperationsAndFailures, ()) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto batch_runs = *rc::gen::inRange<size_t>(1, 6);
  IoptScenario s;
  s.layout = UserMemory::scattered_layout(128, *rc::gen::inRange<uint64_t>(1, 12), seed);
  s.config.batch_runs = batch_runs;
  s.config.pin_chunk = *rc::gen::inRange<uint64_t>(1, 20);
  const std::vector<std::string> v =
      conform::iopt_campaign(
          seed, 150, s,
          *rc::gen::element(conform::CallerMode::kContract, conform::CallerMode::kHostile))
          .violations;
  if (!v.empty()) RC_FAIL(joined(v));
}

// The first violation of a campaign against `mutant`, over a few seeds; empty if it survived.
std::vector<std::string> kill(Mutant mutant) {
  IoptScenario s;
  s.config.mutant = mutant;
  s.config.batch_runs = 3;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    s.layout = UserMemory::scattered_layout(128, 8, seed);
    std::vector<std::string> v = conform::iopt_campaign(seed, 300, s).violations;
    if (!v.empty()) return v;
  }
  return {};
}

struct Expected {
  Mutant mutant;
  std::string rule;  // the prefix of the violation that must catch it
};

void PrintTo(const Expected& e, std::ostream* os) { *os << mutant_name(e.mutant); }

class IoptMutant : public ::testing::TestWithParam<Expected> {};

TEST_P(IoptMutant, IsCaughtByItsRule) {
  const std::vector<std::string> v = kill(GetParam().mutant);
  ASSERT_FALSE(v.empty()) << mutant_name(GetParam().mutant) << " survived";
  const std::string& rule = GetParam().rule;
  const bool by_rule = std::any_of(
      v.begin(), v.end(), [&](const std::string& line) { return line.rfind(rule, 0) == 0; });
  EXPECT_TRUE(by_rule) << "not caught by the rule " << rule << ":\n" << joined(v);
}

INSTANTIATE_TEST_SUITE_P(Zoo, IoptMutant,
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
