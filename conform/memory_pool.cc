#include "conform/memory_pool.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace iommu::conform {
namespace {

// Windows differ only by oas (hw::TableMemory::window_for_oas), so a few cover a campaign.
constexpr size_t kPoolSize = 4;

std::vector<std::unique_ptr<hw::TableMemory>>& pool() {
  thread_local std::vector<std::unique_ptr<hw::TableMemory>> memories;
  return memories;
}

}  // namespace

MemoryLease::MemoryLease(const hw::TableMemory::Config& config) {
  auto& memories = pool();
  // The most recently returned first: a checker built right after another gets its memory,
  // whatever other leases of the window the thread held at once before.
  auto it = std::find_if(memories.rbegin(), memories.rend(), [&](const auto& m) {
    return m->config().base == config.base && m->config().limit == config.limit;
  });
  if (it == memories.rend()) {
    mem_ = std::make_unique<hw::TableMemory>(config);
    return;
  }
  mem_ = std::move(*it);
  memories.erase(std::next(it).base());
  mem_->reset(config);
}

MemoryLease::~MemoryLease() {
  auto& memories = pool();
  if (memories.size() == kPoolSize) memories.erase(memories.begin());
  memories.push_back(std::move(mem_));
}

hw::TableMemory::Config checked_memory_config(unsigned oas, uint64_t bytes) {
  hw::TableMemory::Config c = hw::TableMemory::window_for_oas(oas, bytes);
  c.record_bad_frees = true;
  return c;
}

}  // namespace iommu::conform
