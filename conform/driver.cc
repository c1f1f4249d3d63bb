#include "conform/driver.h"

#include <utility>

namespace iommu::conform {

void WarningLog::report(std::string message) {
  std::lock_guard lock(mu_);
  messages_.push_back(std::move(message));
}

std::vector<std::string> WarningLog::take() {
  std::lock_guard lock(mu_);
  return std::exchange(messages_, {});
}

size_t WarningLog::size() const {
  std::lock_guard lock(mu_);
  return messages_.size();
}

}  // namespace iommu::conform
