// The storage both caches share: entries tagged by context, each covering an aligned
// power-of-two span of iova space, with the three cache modes. Spans of different sizes may
// overlap (a stale 2M block beside the 4K pages that replaced it), as they can in hardware.
#pragma once

#include <fmt/core.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "base/bits.h"
#include "hw/invalidation.h"

namespace iommu::hw {

enum class CacheMode {
  kOff,          // nothing is cached: every access walks
  kRealistic,    // bounded, evicting a victim chosen by a seeded PRNG (reproducible runs)
  kAdversarial,  // unbounded: an entry lives until an invalidation really covers it
};

struct CacheConfig {
  CacheMode mode = CacheMode::kAdversarial;
  size_t capacity = 256;  // realistic only
  uint64_t seed = 0;      // realistic only
};

template <class V>
class SpanStore {
 public:
  explicit SpanStore(const CacheConfig& cfg)
      : cfg_(cfg), rng_(static_cast<uint32_t>(cfg.seed ^ (cfg.seed >> 32))) {
    if (cfg.mode == CacheMode::kRealistic && cfg.capacity == 0) {
      throw std::invalid_argument("a realistic cache needs capacity >= 1 (use CacheMode::kOff)");
    }
  }

  // Caches v for [base, base + 2^shift) of ctx, replacing an entry with the same key.
  void insert(ContextId ctx, unsigned shift, uint64_t base, const V& v) {
    if (cfg_.mode == CacheMode::kOff) return;
    if (shift >= 64 || !is_aligned(base, bit(shift))) {
      throw std::invalid_argument(fmt::format(
          "cache entry at {:#x} with span 2^{} is not an aligned power-of-two span", base, shift));
    }
    if (Slot* slot = find(ctx, shift, base)) {
      slot->value = v;
      return;
    }
    // Evict before inserting: the victim's maps may be erased when they empty.
    if (cfg_.mode == CacheMode::kRealistic && count_ >= cfg_.capacity) {
      evict_one();
    }
    contexts_[ctx][shift].emplace(base, Slot{v, victims_.size()});
    if (cfg_.mode == CacheMode::kRealistic) victims_.push_back({ctx, shift, base});
    ++count_;
  }

  // Calls f(shift, base, value) for each entry holding iova, smallest span first, until f
  // returns true. One ordered-map probe per span size present in the context.
  template <class F>
  void visit(ContextId ctx, uint64_t iova, F&& f) const {
    auto c = contexts_.find(ctx);
    if (c == contexts_.end()) return;
    for (const auto& [shift, spans] : c->second) {
      uint64_t base = iova & ~low_mask(shift);
      if (auto it = spans.find(base); it != spans.end() && f(shift, base, it->second.value)) {
        return;
      }
    }
  }

  // Calls f(shift, base, value) for each entry of ctx overlapping [first, last].
  template <class F>
  void visit_range(ContextId ctx, uint64_t first, uint64_t last, F&& f) const {
    auto c = contexts_.find(ctx);
    if (c == contexts_.end()) return;
    for (const auto& [shift, spans] : c->second) {
      for (auto it = spans.lower_bound(first & ~low_mask(shift));
           it != spans.end() && it->first <= last; ++it) {
        f(shift, it->first, it->second.value);
      }
    }
  }

  // Removes every entry of the command's scope for which hit(ctx, base, span) holds.
  template <class Hit>
  size_t erase_if(const Command& cmd, Hit&& hit) {
    size_t before = count_;
    switch (cmd.kind) {
      case CommandKind::kSync: break;
      case CommandKind::kAll: clear(); break;
      case CommandKind::kContext: erase_in(cmd.ctx, IovaRange::everything(), hit); break;
      case CommandKind::kRange: erase_in(cmd.ctx, cmd.range, hit); break;
    }
    return before - count_;
  }

  size_t size() const { return count_; }

 private:
  struct Slot {
    V value;
    size_t victim;  // index into victims_ (realistic mode)
  };
  using Spans = std::map<uint64_t, Slot>;     // by base
  using Context = std::map<unsigned, Spans>;  // by log2 of the span, smallest first
  struct Key {
    ContextId ctx;
    unsigned shift;
    uint64_t base;
  };

  Slot* find(ContextId ctx, unsigned shift, uint64_t base) {
    auto c = contexts_.find(ctx);
    if (c == contexts_.end()) return nullptr;
    auto s = c->second.find(shift);
    if (s == c->second.end()) return nullptr;
    auto it = s->second.find(base);
    return it == s->second.end() ? nullptr : &it->second;
  }

  void clear() {
    contexts_.clear();
    victims_.clear();
    count_ = 0;
  }

  template <class Hit>
  void erase_in(ContextId ctx, IovaRange range, Hit& hit) {
    auto c = contexts_.find(ctx);
    if (c == contexts_.end()) return;
    for (auto s = c->second.begin(); s != c->second.end();) {
      erase_spans(ctx, s->first, s->second, range, hit);
      s = s->second.empty() ? c->second.erase(s) : std::next(s);
    }
    if (c->second.empty()) contexts_.erase(c);
  }

  // Aligned spans that can overlap the range start at or after its start rounded down.
  template <class Hit>
  void erase_spans(ContextId ctx, unsigned shift, Spans& spans, IovaRange range, Hit& hit) {
    for (auto it = spans.lower_bound(range.start & ~low_mask(shift));
         it != spans.end() && it->first <= range.last;) {
      if (!hit(ctx, it->first, bit(shift))) {
        ++it;
        continue;
      }
      forget_victim(it->second.victim);
      it = spans.erase(it);
      --count_;
    }
  }

  void evict_one() {
    Key k = victims_[rng_() % victims_.size()];
    Context& c = contexts_.at(k.ctx);
    Spans& spans = c.at(k.shift);
    forget_victim(spans.at(k.base).victim);
    spans.erase(k.base);
    --count_;
    if (spans.empty()) c.erase(k.shift);
    if (c.empty()) contexts_.erase(k.ctx);
  }

  // Swap-and-pop keeps victim choice O(1); the moved entry learns its new index.
  void forget_victim(size_t index) {
    if (cfg_.mode != CacheMode::kRealistic) return;
    Key moved = victims_.back();
    victims_[index] = moved;
    victims_.pop_back();
    if (index < victims_.size()) {
      contexts_.at(moved.ctx).at(moved.shift).at(moved.base).victim = index;
    }
  }

  CacheConfig cfg_;
  // Victim choice needs no quality, and a checker builds two stores per run: a one-word
  // engine, not mt19937's 2.5 KB of state to seed each time.
  std::minstd_rand rng_;
  std::unordered_map<ContextId, Context> contexts_;
  std::vector<Key> victims_;
  size_t count_ = 0;
};

}  // namespace iommu::hw
