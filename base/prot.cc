#include "base/prot.h"

#include <array>

namespace iommu {
namespace {

struct ProtLetter {
  int flag;
  char letter;
};

constexpr std::array<ProtLetter, 6> kLetters{{{IOMMU_READ, 'r'},
                                              {IOMMU_WRITE, 'w'},
                                              {IOMMU_CACHE, 'c'},
                                              {IOMMU_NOEXEC, 'n'},
                                              {IOMMU_MMIO, 'm'},
                                              {IOMMU_PRIV, 'p'}}};

}  // namespace

std::string prot_to_string(int prot) {
  std::string out;
  for (const auto& l : kLetters)
    if (prot & l.flag) out += l.letter;
  return out.empty() ? "-" : out;
}

std::optional<int> prot_from_string(std::string_view text) {
  if (text == "-") return 0;
  if (text.empty()) return std::nullopt;
  int prot = 0;
  for (char c : text) {
    int flag = 0;
    for (const auto& l : kLetters)
      if (l.letter == c) flag = l.flag;
    if (flag == 0 || (prot & flag)) return std::nullopt;
    prot |= flag;
  }
  return prot;
}

}  // namespace iommu
