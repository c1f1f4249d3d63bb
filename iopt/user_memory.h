// The world iommufd-style storage lives in, shared by the implementation (iopt/iopt.h) and its
// reference (iopt/ref/ref.h): a process's memory as user pages backed by PFNs, with the page
// bytes and a pin count per PFN (pin_user_pages / unpin_user_page), and a fault injector that
// fails any allocation on request. It is the environment, like hw/'s table memory: it holds
// no storage algorithm and judges nothing beyond recording misuse (an unpin of an unpinned
// page, a kernel access to a page nobody pins).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace iommu::iopt {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;

// Physically contiguous PFNs: pfn, pfn + 1, ..., pfn + npfns - 1.
struct PfnRun {
  uint64_t pfn = 0;
  uint64_t npfns = 0;
  bool operator==(const PfnRun&) const = default;
};

// Decides which allocations fail (the kernel's allocators and pin_user_pages returning
// -ENOMEM). Every allocation point of the storage, of the user memory and, through a table
// memory failure hook, of a domain's page table asks the same injector, so "the nth
// allocation from now" is any point of an operation.
class FaultInjector {
 public:
  // The nth request from now fails (1 = the next), once; 0 disarms.
  void fail_nth(uint64_t n) { fail_at_ = n ? requests_ + n : 0; }
  // Counts a request; true when it must fail.
  bool should_fail();
  uint64_t requests() const { return requests_; }
  uint64_t failures() const { return failures_; }

 private:
  uint64_t requests_ = 0;
  uint64_t failures_ = 0;
  uint64_t fail_at_ = 0;
};

// User pages [0, npages) at uva page * kPageSize, each backed by a distinct PFN.
class UserMemory {
 public:
  // `layout` lists the backing runs in uva order; their PFNs must be distinct
  // (std::invalid_argument otherwise, or for an empty layout).
  UserMemory(std::vector<PfnRun> layout, FaultInjector& faults);
  // A layout of `npages` pages in runs of 1..max_run pages at scattered PFNs, from `seed`.
  static std::vector<PfnRun> scattered_layout(uint64_t npages, uint64_t max_run, uint64_t seed);

  uint64_t npages() const { return npages_; }
  const std::vector<PfnRun>& layout() const { return layout_; }
  // The PFN behind a user page (std::out_of_range beyond npages()).
  uint64_t pfn_of(uint64_t uva_page) const;
  // The backing runs of [uva_page, uva_page + npages), cut at the range's ends.
  std::vector<PfnRun> runs_of(uint64_t uva_page, uint64_t npages) const;

  // pin_user_pages: pins `out.size()` pages from uva_page, writing their PFNs. 0, -EFAULT
  // beyond the memory (nothing pinned), or -ENOMEM from the injector (nothing pinned).
  int pin(uint64_t uva_page, std::span<uint64_t> out);
  // unpin_user_page. An unpin of a page with no pin is recorded as misuse, not applied.
  void unpin(uint64_t pfn);
  uint64_t pins(uint64_t pfn) const;
  // Pins held on all pages together.
  uint64_t total_pins() const { return total_pins_; }

  // A kernel access through a PFN (kmap of a pinned page): misuse when nobody pins it.
  void kernel_read(uint64_t pfn, uint64_t offset, std::span<uint8_t> out);
  void kernel_write(uint64_t pfn, uint64_t offset, std::span<const uint8_t> in);
  // The process's own view, by user address: what a correct kernel access must see.
  void user_read(uint64_t uva, std::span<uint8_t> out) const;

  // Misuse recorded so far, oldest first, each message naming the PFN.
  const std::vector<std::string>& misuse() const { return misuse_; }

 private:
  struct Page {
    uint64_t pins = 0;
    std::vector<uint8_t> bytes;  // empty until written: reads then see the initial pattern
  };
  uint8_t byte_at(uint64_t pfn, const Page& page, uint64_t offset) const;
  Page& page(uint64_t pfn, const char* what);

  std::vector<PfnRun> layout_;
  std::vector<uint64_t> run_start_;  // uva page of each layout run
  uint64_t npages_ = 0;
  FaultInjector& faults_;
  std::unordered_map<uint64_t, Page> pages_;
  uint64_t total_pins_ = 0;
  std::vector<std::string> misuse_;
};

}  // namespace iommu::iopt
