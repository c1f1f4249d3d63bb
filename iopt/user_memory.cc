#include "iopt/user_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <stdexcept>
#include <unordered_set>

namespace iommu::iopt {

bool FaultInjector::should_fail() {
  ++requests_;
  if (fail_at_ == 0 || requests_ != fail_at_) return false;
  fail_at_ = 0;
  ++failures_;
  return true;
}

UserMemory::UserMemory(std::vector<PfnRun> layout, FaultInjector& faults)
    : layout_(std::move(layout)), faults_(faults) {
  if (layout_.empty()) throw std::invalid_argument("user memory: empty layout");
  std::unordered_set<uint64_t> seen;
  for (const PfnRun& r : layout_) {
    if (r.npfns == 0) throw std::invalid_argument("user memory: a layout run of 0 pages");
    run_start_.push_back(npages_);
    npages_ += r.npfns;
    for (uint64_t i = 0; i < r.npfns; ++i)
      if (!seen.insert(r.pfn + i).second)
        throw std::invalid_argument(
            fmt::format("user memory: pfn {:#x} backs two pages", r.pfn + i));
  }
}

std::vector<PfnRun> UserMemory::scattered_layout(uint64_t npages, uint64_t max_run, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<PfnRun> out;
  // Runs sit in 1024-PFN slots in shuffled order, so neighbours are rarely contiguous by
  // chance, except where two slots happen to touch.
  uint64_t slot = 0x10000 + (rng() % 64) * 1024;
  for (uint64_t done = 0; done < npages;) {
    uint64_t n = std::min(npages - done, 1 + rng() % std::max<uint64_t>(max_run, 1));
    n = std::min<uint64_t>(n, 1024);
    uint64_t pfn = slot + (rng() % 4 == 0 ? 1024 - n : 0);
    out.push_back({pfn, n});
    slot += 1024 * (1 + rng() % 3);
    done += n;
  }
  return out;
}

uint64_t UserMemory::pfn_of(uint64_t uva_page) const {
  if (uva_page >= npages_)
    throw std::out_of_range(fmt::format("user memory: page {:#x} beyond {:#x}", uva_page, npages_));
  auto it = std::upper_bound(run_start_.begin(), run_start_.end(), uva_page);
  size_t i = static_cast<size_t>(it - run_start_.begin()) - 1;
  return layout_[i].pfn + (uva_page - run_start_[i]);
}

std::vector<PfnRun> UserMemory::runs_of(uint64_t uva_page, uint64_t npages) const {
  std::vector<PfnRun> out;
  uint64_t end = uva_page + npages;
  for (size_t i = 0; i < layout_.size(); ++i) {
    uint64_t lo = std::max(uva_page, run_start_[i]);
    uint64_t hi = std::min(end, run_start_[i] + layout_[i].npfns);
    if (lo < hi) out.push_back({layout_[i].pfn + (lo - run_start_[i]), hi - lo});
  }
  return out;
}

int UserMemory::pin(uint64_t uva_page, std::span<uint64_t> out) {
  if (uva_page > npages_ || out.size() > npages_ - uva_page) return -EFAULT;
  if (faults_.should_fail()) return -ENOMEM;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = pfn_of(uva_page + i);
    ++pages_[out[i]].pins;
    ++total_pins_;
  }
  return 0;
}

void UserMemory::unpin(uint64_t pfn) {
  auto it = pages_.find(pfn);
  if (it == pages_.end() || it->second.pins == 0) {
    misuse_.push_back(fmt::format("unpin of pfn {:#x}, which has no pin", pfn));
    return;
  }
  --it->second.pins;
  --total_pins_;
}

uint64_t UserMemory::pins(uint64_t pfn) const {
  auto it = pages_.find(pfn);
  return it == pages_.end() ? 0 : it->second.pins;
}

uint8_t UserMemory::byte_at(uint64_t pfn, const Page& page, uint64_t offset) const {
  if (!page.bytes.empty()) return page.bytes[offset];
  uint64_t h = (pfn * 0x9E3779B97F4A7C15ull) ^ (offset * 0x100000001B3ull);
  return static_cast<uint8_t>(h >> 56);
}

UserMemory::Page& UserMemory::page(uint64_t pfn, const char* what) {
  Page& p = pages_[pfn];
  if (p.pins == 0)
    misuse_.push_back(fmt::format("kernel {} of pfn {:#x}, which nobody pins", what, pfn));
  return p;
}

void UserMemory::kernel_read(uint64_t pfn, uint64_t offset, std::span<uint8_t> out) {
  if (offset + out.size() > kPageSize) throw std::out_of_range("kernel_read beyond a page");
  const Page& p = page(pfn, "read");
  for (size_t i = 0; i < out.size(); ++i) out[i] = byte_at(pfn, p, offset + i);
}

void UserMemory::kernel_write(uint64_t pfn, uint64_t offset, std::span<const uint8_t> in) {
  if (offset + in.size() > kPageSize) throw std::out_of_range("kernel_write beyond a page");
  Page& p = page(pfn, "write");
  if (p.bytes.empty()) {
    p.bytes.resize(kPageSize);
    for (uint64_t i = 0; i < kPageSize; ++i) p.bytes[i] = byte_at(pfn, Page{}, i);
  }
  std::copy(in.begin(), in.end(), p.bytes.begin() + static_cast<ptrdiff_t>(offset));
}

void UserMemory::user_read(uint64_t uva, std::span<uint8_t> out) const {
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t a = uva + i;
    uint64_t pfn = pfn_of(a >> kPageShift);
    auto it = pages_.find(pfn);
    static const Page kUntouched{};
    out[i] = byte_at(pfn, it == pages_.end() ? kUntouched : it->second, a & (kPageSize - 1));
  }
}

}  // namespace iommu::iopt
