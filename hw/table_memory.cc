#include "hw/table_memory.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "base/bits.h"

namespace iommu::hw {

// Words are stored in host order; the simulated memory is little-endian like the IOMMUs it
// models, so the host must be too.
static_assert(std::endian::native == std::endian::little);

namespace {

// A chunk's state byte: bits 1:0 the kind, bits 7:2 log2(size / kChunk) + 1 on the first chunk
// of an allocation (0 elsewhere), so that free() needs no side table.
enum Kind : uint8_t { kNever = 0, kLive = 1, kDead = 2, kImage = 3 };
constexpr uint8_t kKindMask = 3;
constexpr unsigned kOrderShift = 2;

// TableMemory::word() reads bit 0 as "holds readable bytes".
static_assert((kLive & 1) && (kImage & 1) && !(kDead & 1) && !(kNever & 1));

Kind kind_of(uint8_t s) { return static_cast<Kind>(s & kKindMask); }
uint8_t start_byte(uint64_t size) {
  const unsigned order = ffs64_idx(size / TableMemory::kChunk);
  return static_cast<uint8_t>(kLive | ((order + 1) << kOrderShift));
}
uint64_t start_size(uint8_t s) { return TableMemory::kChunk << ((s >> kOrderShift) - 1); }
bool is_start(uint8_t s) { return kind_of(s) == kLive && (s >> kOrderShift) != 0; }

PageState page_state(Kind k) {
  switch (k) {
    case kNever:
      return PageState::kNeverAllocated;
    case kDead:
      return PageState::kFreed;
    default:
      return PageState::kAllocated;
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

void* map_anonymous(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw std::runtime_error(
        fmt::format("cannot reserve {:#x} bytes of host memory for table memory", bytes));
  return p;
}

// Gives host pages back; they read as zero afterwards.
void discard(void* p, uint64_t bytes) {
  static const uint64_t host_page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (bytes && madvise(p, align_up(bytes, host_page), MADV_DONTNEED) != 0)
    throw std::runtime_error(fmt::format("cannot discard {:#x} bytes of table memory", bytes));
}

template <typename T>
bool atomic_cas(uint8_t* p, T& expected, T desired) {
  return std::atomic_ref<T>(*reinterpret_cast<T*>(p))
      .compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
}

}  // namespace

// The host memory behind the window: table bytes, one state byte and one software word per
// chunk. All three are lazily zero-filled reservations, so an untouched window costs nothing.
struct TableMemory::Arena {
  uint64_t size = 0;  // bytes of window backed
  uint8_t* bytes = nullptr;
  uint8_t* state = nullptr;
  uint32_t* meta = nullptr;

  explicit Arena(uint64_t window) : size(std::min(window, kMaxArena) & ~(kChunk - 1)) {
    bytes = static_cast<uint8_t*>(map_anonymous(size));
    state = static_cast<uint8_t*>(map_anonymous(chunks()));
    meta = static_cast<uint32_t*>(map_anonymous(chunks() * sizeof(uint32_t)));
  }
  ~Arena() {
    munmap(bytes, size);
    munmap(state, chunks());
    munmap(meta, chunks() * sizeof(uint32_t));
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  uint64_t chunks() const { return size / kChunk; }
  // Zeroes what the first `used` bytes of the window touched, in all three arrays.
  void clear(uint64_t used) {
    const uint64_t n = used / kChunk;
    if (used <= kResetInPlace) {
      std::memset(bytes, 0, used);
      std::memset(state, 0, n);
      std::memset(meta, 0, n * sizeof(uint32_t));
      return;
    }
    discard(bytes, used);
    discard(state, n);
    discard(meta, n * sizeof(uint32_t));
  }
  uint8_t load_state(uint64_t chunk) const {
    return std::atomic_ref<uint8_t>(state[chunk]).load(std::memory_order_acquire);
  }
  void set_state(uint64_t first, uint64_t count, uint8_t s) {
    for (uint64_t c = first; c < first + count; c++)
      std::atomic_ref<uint8_t>(state[c]).store(s, std::memory_order_release);
  }
};

TableMemory::TableMemory() : TableMemory(Config{}) {}

TableMemory::Config TableMemory::window_for_oas(unsigned oas, uint64_t bytes) {
  Config c = oas >= 32 ? Config{} : Config{.base = bit(oas - 1), .limit = bit(oas)};
  if (bytes == 0) return c;
  if (!is_aligned(bytes, kChunk) || bytes < kMinWindow || bytes > kMaxWindow)
    throw std::invalid_argument(fmt::format(
        "table memory of {:#x} bytes: must be a multiple of {} bytes in [{:#x}, {:#x}]", bytes,
        kChunk, kMinWindow, kMaxWindow));
  const uint64_t room = oas >= 64 ? ~uint64_t{0} - c.base : bit(oas) - c.base;
  if (bytes > room)
    throw std::invalid_argument(fmt::format(
        "table memory of {:#x} bytes from {:#x} does not fit the {}-bit oas (at most {:#x} bytes)",
        bytes, c.base, oas, room));
  c.limit = c.base + bytes;
  return c;
}

TableMemory::TableMemory(Config config) : config_(config), next_(config.base) {
  if (!is_aligned(config.base, kChunk) || config.limit <= config.base ||
      config.limit - config.base < kChunk)
    throw std::invalid_argument(fmt::format(
        "table memory window [{:#x}, {:#x}) must be non-empty and start {}-byte aligned",
        config.base, config.limit, kChunk));
  arena_ = std::make_unique<Arena>(config.limit - config.base);
  window_base_ = config.base;
  window_size_ = arena_->size;
  bytes_ = arena_->bytes;
  states_ = arena_->state;
}

void TableMemory::misaligned(uint64_t paddr, unsigned width) {
  throw std::logic_error(fmt::format("misaligned {}-byte table access at {:#x}", width, paddr));
}

TableMemory::~TableMemory() = default;

void TableMemory::reset(const Config& config) {
  if (config.base != config_.base || config.limit != config_.limit)
    throw std::invalid_argument(fmt::format(
        "reset to window [{:#x}, {:#x}) of table memory built for [{:#x}, {:#x})", config.base,
        config.limit, config_.base, config_.limit));
  std::lock_guard lock(mu_);
  arena_->clear(next_ - config_.base);
  config_ = config;
  next_ = config.base;
  alloc_seq_ = 0;
  refused_ = 0;
  fail_at_.reset();
  failure_hook_ = nullptr;
  observer_ = nullptr;
  failed_ = 0;
  for (auto& list : freed_) list.clear();
  freed_bytes_ = 0;
  resident_freed_ = 0;
  live_bytes_.store(0, std::memory_order_relaxed);
  outside_.clear();
  view_.reset();
  bad_accesses_.clear();
}

void TableMemory::set_failure_hook(FailureHook hook) {
  std::lock_guard lock(mu_);
  failure_hook_ = std::move(hook);
}

void TableMemory::set_observer(Observer observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

void TableMemory::fail_nth_allocation(uint64_t n) {
  if (n == 0) throw std::invalid_argument("fail_nth_allocation counts from 1");
  std::lock_guard lock(mu_);
  fail_at_ = alloc_seq_ + n;
}

uint64_t TableMemory::allocations_refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

uint64_t TableMemory::allocations_requested() const {
  std::lock_guard lock(mu_);
  return alloc_seq_;
}

uint64_t TableMemory::allocations_failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

bool TableMemory::should_fail(uint64_t size) {
  ++alloc_seq_;
  if (fail_at_ && *fail_at_ == alloc_seq_) {
    fail_at_.reset();
    return true;
  }
  return failure_hook_ && failure_hook_(alloc_seq_, size);
}

std::optional<uint64_t> TableMemory::alloc(uint64_t size, uint64_t align) {
  if (align == 0) align = size;
  if (!is_pow2(size) || !is_pow2(align))
    throw std::invalid_argument(
        fmt::format("table allocation of {:#x} bytes aligned to {:#x}: both must be powers of two",
                    size, align));
  std::lock_guard lock(mu_);
  // Small tables still own whole chunks so that each chunk has one owner and one state.
  const bool refused = should_fail(size);
  size = std::max(size, kChunk);
  const auto paddr = refused ? std::nullopt : place(size, std::max(align, kChunk));
  if (!paddr) {
    ++failed_;
    if (!refused) ++refused_;
    return std::nullopt;
  }
  const uint64_t first = (*paddr - config_.base) / kChunk;
  arena_->meta[first] = 0;
  arena_->set_state(first + 1, size / kChunk - 1, kLive);
  arena_->set_state(first, 1, start_byte(size));
  live_bytes_.fetch_add(size, std::memory_order_relaxed);
  if (observer_) observer_(*paddr, true);
  return paddr;
}

// Fresh addresses first, so that a dangling pointer keeps pointing at freed memory for as long
// as possible; only when the window is full (or the quarantine overflows) is the oldest fitting
// freed range reused.
std::optional<uint64_t> TableMemory::place(uint64_t size, uint64_t align) {
  if (freed_bytes_ > config_.quarantine)
    if (auto reused = reuse(size, align)) return reused;
  const uint64_t end = config_.base + arena_->size;
  const uint64_t start = align_up(next_, align);
  if (start >= next_ && start + size > start && start + size <= end) {
    next_ = start + size;
    return start;
  }
  return reuse(size, align);
}

std::optional<uint64_t> TableMemory::reuse(uint64_t size, uint64_t align) {
  std::deque<Freed>& list = freed_[ffs64_idx(size)];
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const Freed& f) { return is_aligned(f.paddr, align); });
  if (it == list.end()) return std::nullopt;
  const Freed f = *it;
  if (it == list.begin())
    list.pop_front();
  else
    list.erase(it);
  freed_bytes_ -= f.size;
  if (f.resident) {
    std::memset(arena_->bytes + (f.paddr - config_.base), 0, f.size);
    resident_freed_ -= f.size;
  }
  return f.paddr;
}

void TableMemory::free(uint64_t paddr) {
  std::unique_lock lock(mu_);
  const uint64_t off = paddr - config_.base;
  const uint8_t s = state_byte(paddr);
  if ((!is_aligned(off, kChunk) || !is_start(s)) && config_.record_bad_frees) {
    lock.unlock();
    record_bad(paddr, 0, true);
    return;
  }
  if (!is_aligned(off, kChunk) || !is_start(s))
    throw std::logic_error(
        fmt::format("free of {:#x}, which is not the start of a live table allocation (state: {})",
                    paddr, kind_of(s) == kDead ? "already freed" : "not allocated here"));
  const uint64_t size = start_size(s);
  arena_->set_state(off / kChunk, size / kChunk, kDead);
  live_bytes_.fetch_sub(size, std::memory_order_relaxed);
  retire(paddr, size);
  if (observer_) observer_(paddr, false);
}

// Queues a freed range for reuse. Freed memory reads as poison by its state, so its bytes are
// dead: past the resident budget, whole host pages go back to the host.
void TableMemory::retire(uint64_t paddr, uint64_t size) {
  static const uint64_t host_page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint8_t* bytes = arena_->bytes + (paddr - config_.base);
  Freed f{paddr, size, true};
  if (resident_freed_ + size > kResidentFreedBudget && is_aligned(size, host_page) &&
      is_aligned(reinterpret_cast<uintptr_t>(bytes), host_page) &&
      madvise(bytes, size, MADV_DONTNEED) == 0)
    f.resident = false;
  else
    resident_freed_ += size;
  freed_[ffs64_idx(size)].push_back(f);
  freed_bytes_ += size;
}

void TableMemory::load(uint64_t paddr, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mu_);
  for (uint64_t off = 0; off < bytes.size();) {
    const uint64_t at = paddr + off;
    const uint64_t n = std::min<uint64_t>(kChunk - at % kChunk, bytes.size() - off);
    if (at - config_.base < arena_->size) {
      load_in_window(at, bytes.subspan(off, n));
    } else {
      auto& chunk = outside_[at / kChunk];
      if (!chunk) chunk = std::make_unique<uint8_t[]>(kChunk);
      std::memcpy(chunk.get() + at % kChunk, bytes.data() + off, n);
    }
    off += n;
  }
}

// An image inside the window lives in the arena; fresh allocations then start above it.
void TableMemory::load_in_window(uint64_t paddr, std::span<const uint8_t> bytes) {
  const uint64_t chunk = (paddr - config_.base) / kChunk;
  const Kind k = kind_of(arena_->load_state(chunk));
  if (k == kLive || k == kDead)
    throw std::logic_error(fmt::format("memory image at {:#x} overlaps table allocations", paddr));
  std::memcpy(arena_->bytes + (paddr - config_.base), bytes.data(), bytes.size());
  arena_->set_state(chunk, 1, kImage);
  next_ = std::max(next_, config_.base + (chunk + 1) * kChunk);
}

void TableMemory::view_image(uint64_t paddr, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mu_);
  if (view_) throw std::logic_error("table memory already views an image");
  const uint64_t last = paddr + (bytes.size() - 1);
  if (bytes.empty() || last < paddr)
    throw std::logic_error(fmt::format("image of {:#x} bytes at {:#x} is empty or wraps around",
                                       bytes.size(), paddr));
  view_ = View{paddr & ~(kChunk - 1), last | (kChunk - 1), paddr, bytes};
}

uint64_t TableMemory::view_read(uint64_t paddr, unsigned width) const {
  uint8_t word[8] = {};
  for (unsigned i = 0; i < width; i++) {
    const uint64_t off = paddr + i - view_->paddr;
    if (paddr + i >= view_->paddr && off < view_->bytes.size()) word[i] = view_->bytes[off];
  }
  uint64_t v = 0;
  std::memcpy(&v, word, width);
  return v;
}

uint8_t TableMemory::state_byte(uint64_t paddr) const {
  const uint64_t off = paddr - config_.base;
  if (off < arena_->size) return arena_->load_state(off / kChunk);
  return kNever;
}

PageState TableMemory::state(uint64_t paddr) const {
  if (in_view(paddr)) return PageState::kAllocated;
  if (paddr - config_.base < arena_->size) return page_state(kind_of(state_byte(paddr)));
  std::lock_guard lock(mu_);
  return outside_.contains(paddr / kChunk) ? PageState::kAllocated : PageState::kNeverAllocated;
}

// Memory outside the window: only loaded images live there.
std::optional<uint64_t> TableMemory::slow_read(uint64_t paddr, unsigned width) const {
  if (in_view(paddr)) return view_read(paddr, width);
  if (paddr - config_.base < arena_->size) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = outside_.find(paddr / kChunk);
  if (it == outside_.end()) return std::nullopt;
  uint64_t v = 0;
  std::memcpy(&v, it->second.get() + paddr % kChunk, width);
  return v;
}

void TableMemory::record_bad(uint64_t paddr, unsigned width, bool write) {
  const PageState s = state(paddr);
  std::lock_guard lock(mu_);
  bad_accesses_.push_back({paddr, width, write, s});
}

// A CPU read outside allocated window memory: a loaded image, or a bad access.
uint64_t TableMemory::slow_cpu_read(uint64_t paddr, unsigned width) {
  if (auto v = slow_read(paddr, width)) return *v;
  record_bad(paddr, width, false);
  if (state(paddr) != PageState::kFreed) return 0;
  return width == 8 ? kPoison64 : kPoison32;
}

// Writes to a loaded image outside the window, or records the write as bad.
bool TableMemory::slow_write(uint64_t paddr, unsigned width, uint64_t value) {
  if (paddr - config_.base >= arena_->size) {
    std::lock_guard lock(mu_);
    auto it = outside_.find(paddr / kChunk);
    if (it != outside_.end()) {
      std::memcpy(it->second.get() + paddr % kChunk, &value, width);
      return true;
    }
  }
  record_bad(paddr, width, true);
  return false;
}

bool TableMemory::compare_exchange64(uint64_t paddr, uint64_t& expected, uint64_t desired) {
  if (uint8_t* p = word(paddr, 8)) return atomic_cas(p, expected, desired);
  return slow_compare_exchange(paddr, 8, expected, desired);
}

bool TableMemory::compare_exchange32(uint64_t paddr, uint32_t& expected, uint32_t desired) {
  if (uint8_t* p = word(paddr, 4)) return atomic_cas(p, expected, desired);
  uint64_t e = expected;
  const bool ok = slow_compare_exchange(paddr, 4, e, desired);
  expected = static_cast<uint32_t>(e);
  return ok;
}

// Images outside the window are only touched under the mutex, so compare and store under it
// are atomic there. Unallocated memory fails the exchange as a bad write.
bool TableMemory::slow_compare_exchange(uint64_t paddr, unsigned width, uint64_t& expected,
                                        uint64_t desired) {
  if (paddr - config_.base >= arena_->size) {
    std::lock_guard lock(mu_);
    auto it = outside_.find(paddr / kChunk);
    if (it != outside_.end()) {
      uint8_t* p = it->second.get() + paddr % kChunk;
      uint64_t v = 0;
      std::memcpy(&v, p, width);
      if (v != expected) {
        expected = v;
        return false;
      }
      std::memcpy(p, &desired, width);
      return true;
    }
  }
  record_bad(paddr, width, true);
  expected = state(paddr) == PageState::kFreed ? (width == 8 ? kPoison64 : kPoison32) : 0;
  return false;
}

std::atomic_ref<uint32_t> TableMemory::meta(uint64_t paddr) {
  const uint64_t off = paddr - config_.base;
  if (off >= arena_->size || !is_aligned(off, kChunk) || !is_start(state_byte(paddr)))
    throw std::logic_error(
        fmt::format("meta() of {:#x}, which is not the start of a live allocation", paddr));
  return std::atomic_ref<uint32_t>(arena_->meta[off / kChunk]);
}

std::span<const uint8_t> TableMemory::allocation_bytes(uint64_t paddr) const {
  const uint64_t off = paddr - config_.base;
  if (off >= arena_->size || !is_aligned(off, kChunk)) return {};
  const uint8_t s = arena_->load_state(off / kChunk);
  if (!is_start(s)) return {};
  return {arena_->bytes + off, start_size(s)};
}

std::vector<BadAccess> TableMemory::bad_accesses() const {
  std::lock_guard lock(mu_);
  return bad_accesses_;
}

std::vector<Allocation> TableMemory::live_allocations() const {
  std::lock_guard lock(mu_);
  std::vector<Allocation> out;
  const uint64_t used = (next_ - config_.base) / kChunk;
  for (uint64_t c = 0; c < used; c++) {
    const uint8_t s = arena_->load_state(c);
    if (is_start(s)) out.push_back({config_.base + c * kChunk, start_size(s)});
  }
  return out;
}

}  // namespace iommu::hw
