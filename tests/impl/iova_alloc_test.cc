// The IOVA allocator: size alignment (capped), top-down placement, exhaustion, misuse, and on
// random alloc/free sequences: never an overlapping live range, and exactly the highest free
// aligned fit a page-by-page brute force finds.
#include "impl/iova_alloc.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>

namespace iommu::impl {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k2M = 0x200000;

TEST(IovaAlloc, AlignsToTheSizeRoundedUpToAPowerOfTwo) {
  IovaAllocator a({.granule = k4K, .last = 0xffffffff});
  const uint64_t three = *a.alloc(3 * k4K);
  EXPECT_EQ(three % (4 * k4K), 0u);
  const uint64_t five = *a.alloc(5 * k4K);
  EXPECT_EQ(five % (8 * k4K), 0u);
  const uint64_t odd = *a.alloc(0x1234);  // rounded up to 2 pages
  EXPECT_EQ(odd % (2 * k4K), 0u);
  EXPECT_TRUE(a.is_live(odd, 2 * k4K));
  EXPECT_EQ(a.live_bytes(), 10 * k4K);
}

TEST(IovaAlloc, AllocatesTopDownAndNeverPageZero) {
  IovaAllocator a({.granule = k4K, .last = 0xffff});
  EXPECT_EQ(*a.alloc(k4K), 0xf000u);
  EXPECT_EQ(*a.alloc(k4K), 0xe000u);
  EXPECT_EQ(*a.alloc(2 * k4K), 0xc000u);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(a.alloc(k4K)) << i;
  EXPECT_FALSE(a.alloc(k4K)) << "page 0 is never handed out";
  EXPECT_EQ(a.live_count(), 14u);
}

TEST(IovaAlloc, AlignmentIsCappedAtMaxAlign) {
  IovaAllocator a({.granule = k4K, .last = 0xffffffff, .max_align = k2M});
  EXPECT_EQ(a.alignment(3 * k2M / 2), k2M);
  const uint64_t big = *a.alloc(3 * k2M);
  EXPECT_EQ(big % k2M, 0u);
  EXPECT_EQ(big, 0x100000000u - 3 * k2M) << "not pushed down to a 8M boundary";
}

TEST(IovaAlloc, FreedSpaceCoalescesBack) {
  IovaAllocator a({.granule = k4K, .last = 0xfffff});
  std::vector<uint64_t> pages;
  while (auto p = a.alloc(k4K)) pages.push_back(*p);
  EXPECT_EQ(pages.size(), 255u);
  for (uint64_t p : pages) a.free(p, k4K);
  EXPECT_EQ(a.live_bytes(), 0u);
  EXPECT_EQ(*a.alloc(0x80000), 0x80000u) << "the top half is one free block again";
}

TEST(IovaAlloc, MisuseThrows) {
  IovaAllocator a({.granule = k4K});
  const uint64_t p = *a.alloc(2 * k4K);
  EXPECT_THROW(a.free(p + k4K, k4K), std::logic_error);
  EXPECT_THROW(a.free(p, k4K), std::logic_error) << "wrong size";
  a.free(p, 2 * k4K);
  EXPECT_THROW(a.free(p, 2 * k4K), std::logic_error) << "double free";
  EXPECT_FALSE(a.alloc(0));
  EXPECT_THROW(IovaAllocator({.granule = 0x1800}), std::invalid_argument);
  EXPECT_THROW(IovaAllocator({.granule = k4K, .first = 0x10000, .last = 0x10800}),
               std::invalid_argument);
}

TEST(IovaAlloc, TheTopOfA64BitSpaceWorks) {
  IovaAllocator a({.granule = k4K, .last = ~uint64_t{0}});
  EXPECT_EQ(*a.alloc(k4K), ~uint64_t{0} - k4K + 1);
  EXPECT_EQ(*a.alloc(uint64_t{1} << 62), uint64_t{1} << 63) << "the top 2^62 block holds a page";
}

// Page-by-page model: the highest aligned start whose pages are all free.
struct Brute {
  std::vector<bool> used;
  explicit Brute(size_t pages) : used(pages, false) { used[0] = true; }
  std::optional<uint64_t> fit(uint64_t pages, uint64_t align) const {
    for (uint64_t start = (used.size() - pages) / align * align;; start -= align) {
      bool ok = true;
      for (uint64_t p = start; p < start + pages && ok; ++p) ok = !used[p];
      if (ok) return start;
      if (start < align) return std::nullopt;
    }
  }
  void mark(uint64_t start, uint64_t pages, bool v) {
    for (uint64_t p = start; p < start + pages; ++p) used[p] = v;
  }
};

RC_GTEST_PROP(IovaAlloc, MatchesTheHighestFreeAlignedFitAndNeverOverlaps, ()) {
  constexpr unsigned kPages = 256;
  const uint64_t cap = uint64_t{1} << *rc::gen::inRange(0, 9);
  IovaAllocator a({.granule = k4K, .last = kPages * k4K - 1, .max_align = cap * k4K});
  Brute brute(kPages);
  std::vector<std::pair<uint64_t, uint64_t>> live;  // (page, pages)
  const auto steps = *rc::gen::container<std::vector<std::pair<bool, uint64_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange<uint64_t>(1, 40)));
  for (const auto& [alloc, n] : steps) {
    if (alloc || live.empty()) {
      const uint64_t align = std::min(std::bit_ceil(n), cap);
      const auto want = brute.fit(n, align);
      const auto got = a.alloc(n * k4K);
      RC_ASSERT(got.has_value() == want.has_value());
      if (!got) continue;
      RC_ASSERT(*got == *want * k4K);
      brute.mark(*want, n, true);
      live.emplace_back(*want, n);
    } else {
      const size_t i = n % live.size();
      a.free(live[i].first * k4K, live[i].second * k4K);
      brute.mark(live[i].first, live[i].second, false);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    }
    const auto ranges = a.live();
    for (size_t i = 1; i < ranges.size(); ++i)
      RC_ASSERT(ranges[i - 1].first + ranges[i - 1].second <= ranges[i].first);
    RC_ASSERT(ranges.size() == live.size());
  }
}

}  // namespace
}  // namespace iommu::impl
