// Simulated physical memory holding page-table pages. Every chunk of it is tracked as never
// allocated, allocated or freed, so a walk through a dangling table pointer is a finding rather
// than a lucky hit on stale bytes.
//
// Threads: reads, writes and compare-exchanges of allocated memory are lock-free atomics, safe
// from several threads (what a concurrent page table needs); alloc, free, load and the slow
// paths (memory outside the window, bad accesses) are serialized by an internal mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace iommu::hw {

enum class PageState { kNeverAllocated, kAllocated, kFreed };

// One table allocation: [paddr, paddr + size).
struct Allocation {
  uint64_t paddr = 0;
  uint64_t size = 0;
  bool operator==(const Allocation&) const = default;
};

// A CPU-side read or write of memory that is not allocated (a use after free or a wild pointer).
struct BadAccess {
  uint64_t paddr = 0;
  unsigned width = 0;  // bytes; 0 for a free
  bool write = false;
  PageState state = PageState::kNeverAllocated;
};

// What freed memory reads as: every 32-bit word is this value, so a 64-bit LPAE or DART entry
// looks like a valid table or page pointing far outside any allocation, and a v7s entry looks
// valid too. Code that follows a dangling pointer then walks into unallocated memory.
inline constexpr uint32_t kPoison32 = 0xbadbad03;
inline constexpr uint64_t kPoison64 = 0xbadbad03badbad03;

class TableMemory {
 public:
  // Memory is tracked in chunks of this size: the smallest table (v7s level 2) is 1 KiB.
  static constexpr uint64_t kChunk = 1024;
  // Host address space reserved for one window at most; a larger window is used up to this.
  static constexpr uint64_t kMaxArena = uint64_t{1} << 36;
  // Freed memory kept resident (so that reuse in a small window costs a memset, not a page
  // fault) before further frees return their pages to the host.
  static constexpr uint64_t kResidentFreedBudget = uint64_t{4} << 20;
  // reset() zeroes at most this much of the window in place; a larger use goes back to the
  // host, since zeroing would cost more than faulting the pages in again.
  static constexpr uint64_t kResetInPlace = uint64_t{1} << 20;

  struct Config {
    uint64_t base = 0x8000'0000;  // first table paddr handed out
    uint64_t limit = 1ull << 32;  // allocations end below this (keeps paddrs within the oas)
    // Freed memory is reused (oldest first) once more than this many bytes of it wait; by
    // default only when the window is full, so a dangling pointer keeps reading poison for
    // as long as possible. A small quarantine keeps long runs in hot memory instead.
    uint64_t quarantine = ~uint64_t{0};
    // A free of anything but a live allocation's start is recorded in bad_accesses() (width
    // 0) and ignored, instead of throwing: a checker reports a driver's double free as a
    // finding rather than dying of it.
    bool record_bad_frees = false;
  };

  // The smallest and largest window window_for_oas accepts a size for.
  static constexpr uint64_t kMinWindow = 64 * 1024;
  static constexpr uint64_t kMaxWindow = kMaxArena;

  // The default window, or the top half of the address space when the oas is below 32 bits
  // (a narrow arm-v7s configuration), so that every table paddr is one the format can encode.
  // A nonzero `bytes` sizes the window (same base); std::invalid_argument, naming the limit,
  // when that size is not a multiple of kChunk, is outside [kMinWindow, kMaxWindow] or would
  // put table paddrs beyond the oas.
  static Config window_for_oas(unsigned oas, uint64_t bytes = 0);

  // Decides whether an allocation fails (as the kernel's page allocator returning NULL):
  // called with the 1-based sequence number of the allocation request and its size.
  using FailureHook = std::function<bool(uint64_t seq, uint64_t size)>;

  TableMemory();
  explicit TableMemory(Config config);
  ~TableMemory();
  TableMemory(const TableMemory&) = delete;
  TableMemory& operator=(const TableMemory&) = delete;

  // Forgets every allocation, image, bad access and failure setting: afterwards the memory is
  // as if built with `config`, whose window must be this memory's (std::invalid_argument
  // otherwise). The host pages a short use touched stay resident, so that a checker per fuzz
  // input does not pay for a fresh reservation, its page faults and its unmapping.
  void reset(const Config& config);
  const Config& config() const { return config_; }

  // Zeroed memory of `size` bytes aligned to `align` (0 means `size`); both powers of two.
  // nullopt when the failure hook says so or the address window is exhausted: the -ENOMEM path.
  std::optional<uint64_t> alloc(uint64_t size, uint64_t align = 0);
  // Frees an allocation by its start address; throws std::logic_error for anything else
  // (double free, interior pointer), which is a bug in the caller, unless
  // Config::record_bad_frees.
  void free(uint64_t paddr);

  // Allocation requests refused because the window had no room left (not those the failure
  // hook or fail_nth_allocation failed): the model's own limit, not a driver's -ENOMEM path.
  uint64_t allocations_refused() const;

  void set_failure_hook(FailureHook hook);

  // Told of every allocation made (`allocated` true) and every allocation freed, on the thread
  // that made the call, under the memory's lock: it must not call into this memory. A
  // concurrent campaign uses it to see a table freed by the call that allocated it (a lost
  // install race). reset() forgets it.
  using Observer = std::function<void(uint64_t paddr, bool allocated)>;
  void set_observer(Observer observer);
  // Makes the nth allocation request from now fail (1 = the next one), once.
  void fail_nth_allocation(uint64_t n);
  uint64_t allocations_requested() const;
  // Requests answered with nullopt, by the failure settings or for lack of room.
  uint64_t allocations_failed() const;

  // Marks the chunks covering [paddr, paddr + bytes.size()) allocated and copies the bytes in
  // (a raw memory image); the rest of a partly covered chunk reads as zero. Throws
  // std::logic_error when the image overlaps table allocations (live or freed).
  void load(uint64_t paddr, std::span<const uint8_t> bytes);

  // Makes [paddr, paddr + bytes.size()) read as allocated memory holding `bytes`, in place: an
  // image of any size costs only the host pages a reader touches. Read-only (writes there are
  // bad accesses); the rest of a partly covered chunk reads as zero, as with load. `bytes` must
  // outlive the view, which reset() forgets. One view per memory (std::logic_error otherwise);
  // allocations may land under it, so it is for a memory that is only read (a decoder's).
  void view_image(uint64_t paddr, std::span<const uint8_t> bytes);

  PageState state(uint64_t paddr) const;

  // Device-side (walker) reads: nullopt when the word is not in allocated memory.
  std::optional<uint64_t> peek64(uint64_t paddr) const {
    if (const uint8_t* p = word(paddr, 8)) return load<uint64_t>(p);
    return slow_read(paddr, 8);
  }
  std::optional<uint32_t> peek32(uint64_t paddr) const {
    if (const uint8_t* p = word(paddr, 4)) return load<uint32_t>(p);
    if (auto v = slow_read(paddr, 4)) return static_cast<uint32_t>(*v);
    return std::nullopt;
  }

  // CPU-side accesses, little-endian, naturally aligned (std::logic_error otherwise). Out of
  // allocated memory they are recorded in bad_accesses(); reads then return the poison (freed)
  // or zero (never allocated), and writes are dropped. Reads acquire, writes release.
  uint64_t read64(uint64_t paddr) {
    if (const uint8_t* p = word(paddr, 8)) return load<uint64_t>(p);
    return slow_cpu_read(paddr, 8);
  }
  uint32_t read32(uint64_t paddr) {
    if (const uint8_t* p = word(paddr, 4)) return load<uint32_t>(p);
    return static_cast<uint32_t>(slow_cpu_read(paddr, 4));
  }
  void write64(uint64_t paddr, uint64_t value) {
    if (uint8_t* p = word(paddr, 8))
      std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(p))
          .store(value, std::memory_order_release);
    else
      slow_write(paddr, 8, value);
  }
  void write32(uint64_t paddr, uint32_t value) {
    if (uint8_t* p = word(paddr, 4))
      std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(p))
          .store(value, std::memory_order_release);
    else
      slow_write(paddr, 4, value);
  }
  // An atomic compare-and-swap (acq_rel) on an allocated word: true and `desired` stored when
  // the word held `expected`, otherwise false and `expected` updated to what it held. Outside
  // allocated memory: recorded as a bad write, false, `expected` set to what a read returns.
  bool compare_exchange64(uint64_t paddr, uint64_t& expected, uint64_t desired);
  bool compare_exchange32(uint64_t paddr, uint32_t& expected, uint32_t desired);

  // The bytes of the live allocation that starts at `paddr`, read in place: for an owner
  // scanning a whole table that nothing else writes (teardown), at one check for the table
  // instead of one per entry. Empty when paddr does not start a live allocation.
  std::span<const uint8_t> allocation_bytes(uint64_t paddr) const;

  // One 32-bit software word per allocation, zeroed by alloc and never seen by a device: the
  // owner's bookkeeping (Linux keeps table use counts in struct page). `paddr` must be the
  // start of a live allocation; throws std::logic_error otherwise.
  std::atomic_ref<uint32_t> meta(uint64_t paddr);

  std::vector<BadAccess> bad_accesses() const;
  // Allocations not freed yet, by address: at teardown, the leaked table pages.
  std::vector<Allocation> live_allocations() const;
  // Bytes held by live allocations (each rounded up to a whole chunk).
  uint64_t live_bytes() const { return live_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Freed {
    uint64_t paddr = 0;
    uint64_t size = 0;
    bool resident = true;  // bytes still in host memory: zero them on reuse
  };
  struct Arena;

  std::optional<uint64_t> place(uint64_t size, uint64_t align);
  std::optional<uint64_t> reuse(uint64_t size, uint64_t align);
  bool should_fail(uint64_t size);
  void retire(uint64_t paddr, uint64_t size);
  uint8_t state_byte(uint64_t paddr) const;
  [[noreturn]] static void misaligned(uint64_t paddr, unsigned width);
  std::optional<uint64_t> slow_read(uint64_t paddr, unsigned width) const;
  uint64_t slow_cpu_read(uint64_t paddr, unsigned width);
  bool slow_write(uint64_t paddr, unsigned width, uint64_t value);
  bool slow_compare_exchange(uint64_t paddr, unsigned width, uint64_t& expected, uint64_t desired);
  void record_bad(uint64_t paddr, unsigned width, bool write);
  void load_in_window(uint64_t paddr, std::span<const uint8_t> bytes);

  // The host bytes of an allocated word in the window, or null (outside it, or not allocated:
  // the state kinds that hold readable bytes, live and loaded, have bit 0 set).
  uint8_t* word(uint64_t paddr, unsigned width) const {
    if (paddr & (width - 1)) misaligned(paddr, width);
    const uint64_t off = paddr - window_base_;
    if (off >= window_size_) return nullptr;
    const uint8_t s =
        std::atomic_ref<uint8_t>(states_[off / kChunk]).load(std::memory_order_acquire);
    return (s & 1) ? bytes_ + off : nullptr;
  }
  template <typename T>
  static T load(const uint8_t* p) {
    return std::atomic_ref<T>(*reinterpret_cast<T*>(const_cast<uint8_t*>(p)))
        .load(std::memory_order_acquire);
  }

  Config config_;
  std::unique_ptr<Arena> arena_;
  // The arena's layout, copied here for the inline fast paths.
  uint64_t window_base_ = 0;
  uint64_t window_size_ = 0;
  uint8_t* bytes_ = nullptr;
  uint8_t* states_ = nullptr;
  mutable std::mutex mu_;
  uint64_t next_ = 0;
  uint64_t alloc_seq_ = 0;
  uint64_t failed_ = 0;
  uint64_t refused_ = 0;
  std::optional<uint64_t> fail_at_;
  FailureHook failure_hook_;
  Observer observer_;
  std::array<std::deque<Freed>, 64> freed_;  // by log2(size); reused oldest first
  uint64_t freed_bytes_ = 0;                 // waiting in freed_
  uint64_t resident_freed_ = 0;              // of which still in host memory
  std::atomic<uint64_t> live_bytes_{0};
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> outside_;  // loaded chunks
  struct View {
    uint64_t first = 0, last = 0;  // the chunks covered: first and last byte
    uint64_t paddr = 0;           // of bytes[0]
    std::span<const uint8_t> bytes;
  };
  std::optional<View> view_;  // set before any reader runs, then only read
  bool in_view(uint64_t paddr) const {
    return view_ && paddr - view_->first <= view_->last - view_->first;
  }
  uint64_t view_read(uint64_t paddr, unsigned width) const;
  std::vector<BadAccess> bad_accesses_;
};

}  // namespace iommu::hw
