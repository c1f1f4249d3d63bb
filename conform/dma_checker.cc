#include "conform/dma_checker.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <stdexcept>

#include "base/prot.h"
#include "conform/iommu_choice.h"
#include "conform/registry.h"
#include "hw/device.h"
#include "hw/format.h"
#include "impl/dma.h"
#include "impl/domain.h"
#include "impl/iommu_driver.h"

namespace iommu::conform {

std::string_view dma_mode_name(DmaMode m) {
  switch (m) {
    case DmaMode::kStrict:
      return "strict";
    case DmaMode::kPerCpu:
      return "per-cpu";
    case DmaMode::kSingle:
      return "single";
  }
  return "?";
}

std::optional<DmaMode> parse_dma_mode(std::string_view name) {
  for (DmaMode m : {DmaMode::kStrict, DmaMode::kPerCpu, DmaMode::kSingle})
    if (dma_mode_name(m) == name) return m;
  return std::nullopt;
}

// Linux's IOVA_DEFAULT_FQ_TIMEOUT / IOVA_SINGLE_FQ_TIMEOUT and the ring sizes: the
// specification the checker holds the flush queue to, not impl's constants.
uint64_t DmaScenario::timeout_ms() const {
  if (fq_timeout_ms) return fq_timeout_ms;
  return mode == DmaMode::kSingle ? 1000 : 10;
}

uint64_t DmaScenario::ring_slots() const {
  if (fq_entries) return fq_entries;
  return mode == DmaMode::kSingle ? 32768 : 256;
}

namespace {

// Counts the context-wide invalidations (flush_iotlb_all, tlb_flush_all) the device completed:
// after one, nothing unmapped before it may still translate.
class FlushCounter : public hw::InvalidationSink {
 public:
  FlushCounter(hw::InvalidationSink& device, hw::ContextId ctx) : device_(device), ctx_(ctx) {}
  void issue(const hw::Command& c) override {
    if (c.kind == hw::CommandKind::kAll || (c.kind == hw::CommandKind::kContext && c.ctx == ctx_))
      context_pending_ = true;
    device_.issue(c);
    if (c.kind == hw::CommandKind::kSync && context_pending_) {
      ++completed_;
      context_pending_ = false;
    }
  }
  uint64_t completed() const { return completed_; }

 private:
  hw::InvalidationSink& device_;
  hw::ContextId ctx_;
  bool context_pending_ = false;
  uint64_t completed_ = 0;
};

DriverSource dma_source(const DmaScenario& s) {
  DriverSource src = resolve_driver("impl:" + s.format);
  if (s.mode != DmaMode::kStrict) src.info.config.invalidation = ref::Invalidation::kLazy;
  return src;
}

impl::DmaConfig dma_config(const DmaScenario& s) {
  impl::DmaConfig c;
  c.dma_bits = s.dma_bits;
  c.flush_queue.style =
      s.mode == DmaMode::kSingle ? impl::FlushQueueStyle::kSingle : impl::FlushQueueStyle::kPerCpu;
  c.flush_queue.cpus = s.mode == DmaMode::kPerCpu ? s.cpus : 1;
  c.flush_queue.entries = s.fq_entries;
  c.flush_queue.timeout = std::chrono::milliseconds(s.fq_timeout_ms);
  c.flush_queue.bug = s.bug;
  c.bug = s.bug;
  return c;
}

constexpr hw::ContextId kCtx = 1;

impl::IommuDriverConfig with_bug(impl::IommuDriverConfig c, impl::Mutant bug) {
  c.bug = bug;
  return c;
}

}  // namespace

// The system under test, in construction order.
class DmaWorld {
 public:
  explicit DmaWorld(const DmaScenario& s)
      : source(dma_source(s)),
        memory(hw::TableMemory::window_for_oas(source.info.config.oas)),
        device(memory, hw::make_format(source.info.walk_format()), {.ctx = kCtx}),
        sink(device.invalidation(), kCtx),
        iommu(sink, with_bug(iommu_config(source.info, std::nullopt, kCtx), s.bug)),
        env{memory, iommu, {}, {}, s.bug},
        pgtable(source.create(env)),
        domain(*pgtable, iommu, source.info.config),
        dma(domain, clock, dma_config(s)) {
    const std::vector<uint64_t> roots = pgtable->roots();
    device.set_roots(roots);
  }

  DriverSource source;
  hw::TableMemory memory;
  hw::Device device;
  FlushCounter sink;
  impl::IommuDriver iommu;
  DriverEnv env;
  std::unique_ptr<Driver> pgtable;
  impl::Domain domain;
  impl::ManualClock clock;
  impl::Dma dma;
};

DmaChecker::DmaChecker(const DmaScenario& scenario)
    : scenario_(scenario), world_(std::make_unique<DmaWorld>(scenario)) {}

DmaChecker::~DmaChecker() = default;

uint64_t DmaChecker::granule() const { return world_->source.info.config.min_pgsize(); }

unsigned DmaChecker::space_bits() const {
  const unsigned ias = world_->source.info.config.ias;
  return scenario_.dma_bits == 0 ? ias : std::min(scenario_.dma_bits, ias);
}

const DmaChecker::Range* DmaChecker::live_at(uint64_t iova) const {
  auto it = live_.upper_bound(iova);
  if (it == live_.begin()) return nullptr;
  --it;
  return iova - it->second.iova < it->second.len ? &it->second : nullptr;
}

void DmaChecker::expire(bool polled) {
  const uint64_t flushes = world_->sink.completed();
  const uint64_t timeout = scenario_.timeout_ms();
  std::erase_if(stale_, [&](const Stale& s) {
    if (flushes > s.flushes) {
      gone_.push_back({s.range, "stale-after-flush", "the flush that covers it completed"});
    } else if (polled && now_ms_ - s.unmapped_ms >= timeout) {
      gone_.push_back(
          {s.range, "stale-after-timer", "its flush-queue timer ran out and was polled"});
    } else {
      return false;
    }
    return true;
  });
  if (gone_.size() > kGoneKept) gone_.erase(gone_.begin(), gone_.end() - kGoneKept);
}

std::optional<DmaViolation> DmaChecker::step(const DmaOp& op, std::string* outcome) {
  std::string out;
  std::optional<DmaViolation> v;
  try {
    v = dispatch(op, out);
  } catch (const std::exception& e) {
    v = DmaViolation{"exception", fmt::format("`{}` threw: {}", format_dma_op(op), e.what())};
  }
  if (outcome) *outcome = out;
  if (v) v->detail = fmt::format("`{}`: {}", format_dma_op(op), v->detail);
  return v;
}

std::optional<DmaViolation> DmaChecker::dispatch(const DmaOp& op, std::string& out) {
  auto label = labels_.find(op.label);
  const bool known = label != labels_.end();
  switch (op.kind) {
    case DmaOpKind::kMap:
      if (known) {
        out = "skipped: the label names an earlier mapping";
        return std::nullopt;
      }
      return map(op, out);
    case DmaOpKind::kUnmap:
      if (!known) {
        out = "skipped: no mapping of that label";
        return std::nullopt;
      }
      return unmap(label->second.iova, op.size ? op.size : label->second.size, op.cpu, out);
    case DmaOpKind::kUnmapIova:
      return unmap(op.iova, op.size, op.cpu, out);
    case DmaOpKind::kTick:
      world_->clock.advance(std::chrono::milliseconds(op.ms));
      now_ms_ += op.ms;
      out = fmt::format("now {} ms", now_ms_);
      return std::nullopt;
    case DmaOpKind::kPoll:
      out = world_->dma.poll() ? "the timer fired" : "nothing due";
      expire(true);
      return std::nullopt;
    case DmaOpKind::kDrain:
      return drain(out);
    case DmaOpKind::kAccess:
      if (!known) {
        out = "skipped: no mapping of that label";
        return std::nullopt;
      }
      return access(label->second.iova + op.iova, op.write, out);
    case DmaOpKind::kAccessIova:
      return access(op.iova, op.write, out);
  }
  return std::nullopt;
}

std::optional<DmaViolation> DmaChecker::map(const DmaOp& op, std::string& out) {
  const uint64_t g = granule();
  const uint64_t offset = op.paddr & (g - 1);
  const bool bad_size = op.size == 0 || op.size > ~uint64_t{0} - offset - (g - 1);
  const impl::DmaMapping r = world_->dma.dma_map(op.paddr, op.size, op.prot);
  expire(true);
  out = r.ok() ? fmt::format("iova {:#x}", r.iova) : fmt::format("errno {}", r.err);
  if (bad_size) {
    if (r.err == -EINVAL) return std::nullopt;
    return DmaViolation{"errno", fmt::format("a size of {:#x} must be -EINVAL, got {}", op.size,
                                             r.ok() ? "a mapping" : std::to_string(r.err))};
  }
  const uint64_t len = (op.size + offset + (g - 1)) & ~(g - 1);
  // The page table refuses output addresses beyond its oas (io-pgtable's -ERANGE).
  const unsigned oas = world_->source.info.config.oas;
  const uint64_t last_paddr = (op.paddr - offset) + (len - 1);
  const bool beyond_oas = last_paddr < op.paddr - offset || (oas < 64 && (last_paddr >> oas) != 0);
  if (beyond_oas) {
    if (r.err == -ERANGE || r.err == -ENOMEM) return std::nullopt;
    return DmaViolation{"errno", fmt::format("[{:#x}, +{:#x}) is beyond the {}-bit oas: must be "
                                             "-ERANGE, got {}",
                                             op.paddr - offset, len, oas,
                                             r.ok() ? "a mapping" : std::to_string(r.err))};
  }
  if (!r.ok()) {
    if (r.err != -ENOMEM)
      return DmaViolation{"errno", fmt::format("dma_map failed with {}", r.err)};
    const bool nothing_held = live_.empty() && !queued_since_drain_;
    if (nothing_held && std::bit_ceil(len) <= (uint64_t{1} << (space_bits() - 1)))
      return DmaViolation{"leak", fmt::format("-ENOMEM for {:#x} bytes with no IOVA in use in a "
                                              "{}-bit space",
                                              len, space_bits())};
    return std::nullopt;
  }
  const uint64_t base = r.iova & ~(g - 1);
  if ((r.iova & (g - 1)) != offset)
    return DmaViolation{"iova", fmt::format("iova {:#x} does not keep paddr {:#x}'s offset in its "
                                            "page",
                                            r.iova, op.paddr)};
  const uint64_t top = space_bits() == 64 ? ~uint64_t{0} : (uint64_t{1} << space_bits()) - 1;
  if (base < g || base > top || top - base < len - 1)
    return DmaViolation{
        "iova",
        fmt::format("[{:#x}, +{:#x}) is outside the DMA space [{:#x}, {:#x}]", base, len, g, top)};
  if (auto v = fresh(base, len)) return v;
  live_[base] = Range{base, op.paddr - offset, len, op.prot};
  labels_[op.label] = Label{r.iova, op.size, true};
  // Fills the caches, so that a later unmap has a translation to leave stale.
  if (auto v = access(base + (len - g), false, out, false)) return v;
  return access(base, false, out, false);
}

// An IOVA range handed out must be free: no live mapping, and no lazily unmapped range whose
// flush has not completed (a device may still reach that range's old buffer).
std::optional<DmaViolation> DmaChecker::fresh(uint64_t base, uint64_t len) const {
  auto overlaps = [&](const Range& r) { return r.iova < base + len && base < r.iova + r.len; };
  for (const auto& [iova, r] : live_)
    if (overlaps(r))
      return DmaViolation{"overlap", fmt::format("[{:#x}, +{:#x}) overlaps the live mapping "
                                                 "[{:#x}, +{:#x})",
                                                 base, len, r.iova, r.len)};
  for (const Stale& s : stale_)
    if (overlaps(s.range))
      return DmaViolation{"reuse-before-flush",
                          fmt::format("[{:#x}, +{:#x}) handed out again while [{:#x}, +{:#x}), "
                                      "unmapped at {} ms, waits for its flush",
                                      base, len, s.range.iova, s.range.len, s.unmapped_ms)};
  return std::nullopt;
}

std::optional<DmaViolation> DmaChecker::unmap(uint64_t iova, uint64_t size, unsigned cpu,
                                              std::string& out) {
  const uint64_t g = granule();
  const uint64_t offset = iova & (g - 1);
  const uint64_t base = iova - offset;
  const uint64_t len =
      size > ~uint64_t{0} - offset - (g - 1) ? 0 : (size + offset + (g - 1)) & ~(g - 1);
  const auto it = live_.find(base);
  const bool live = it != live_.end() && it->second.len == len && len != 0;
  const bool bad_cpu = scenario_.mode == DmaMode::kPerCpu && cpu >= scenario_.cpus;
  bool refused = false;
  try {
    world_->dma.dma_unmap(iova, size, cpu);
    out = "unmapped";
  } catch (const std::logic_error& e) {
    refused = true;
    out = fmt::format("refused: {}", e.what());
  }
  expire(true);
  if (refused != (!live || bad_cpu)) {
    return DmaViolation{
        "contract", refused
                        ? fmt::format("the live mapping's unmap was refused ({})", out)
                        : fmt::format("accepted, but {}", bad_cpu ? "the CPU does not exist"
                                                                  : "no live mapping is there")};
  }
  if (world_->dma.warnings() != 0)
    return DmaViolation{"warning", "dma_unmap removed another size than was mapped"};
  if (refused) {
    // Nothing may have changed: a live mapping there still translates.
    if (it == live_.end()) return std::nullopt;
    return access(it->second.iova, false, out, false);
  }
  const Range r = it->second;
  live_.erase(it);
  for (auto& [name, l] : labels_)
    if ((l.iova & ~(g - 1)) == base) l.live = false;
  if (scenario_.mode == DmaMode::kStrict) {
    gone_.push_back({r, "strict-unmap", "its strict dma_unmap returned"});
    return probe_range(r);
  }
  const unsigned ring = scenario_.mode == DmaMode::kPerCpu ? cpu : 0;
  stale_.push_back({r, now_ms_, world_->sink.completed(), ring});
  queued_since_drain_ = true;
  const auto waiting =
      std::count_if(stale_.begin(), stale_.end(), [&](const Stale& s) { return s.ring == ring; });
  if (static_cast<uint64_t>(waiting) > scenario_.ring_slots() - 1)
    return DmaViolation{"queue-bound",
                        fmt::format("{} unmapped ranges wait for a flush in a queue of {} "
                                    "slots (a full queue must flush)",
                                    waiting, scenario_.ring_slots())};
  return std::nullopt;
}

std::optional<DmaViolation> DmaChecker::drain(std::string& out) {
  world_->dma.flush_queue_now();
  out = "drained";
  expire(false);
  for (const Stale& s : stale_)
    gone_.push_back({s.range, "stale-after-drain", "the flush queue was drained"});
  stale_.clear();
  queued_since_drain_ = false;
  return check_held("after a drain");
}

// After a drain every IOVA not in a live mapping is free again.
std::optional<DmaViolation> DmaChecker::check_held(const std::string& when) const {
  uint64_t bytes = 0;
  for (const auto& [iova, r] : live_) bytes += r.len;
  const impl::IovaAllocator& iovas = world_->dma.iovas();
  if (iovas.live_count() != live_.size() || iovas.live_bytes() != bytes)
    return DmaViolation{
        "leak", fmt::format("{}: {} IOVA ranges ({:#x} bytes) allocated, but {} "
                            "mappings ({:#x} bytes) are live",
                            when, iovas.live_count(), iovas.live_bytes(), live_.size(), bytes)};
  if (const impl::FlushQueue* fq = world_->dma.flush_queue(); fq && fq->pending() != 0)
    return DmaViolation{"leak", fmt::format("{}: {} ranges still queued", when, fq->pending())};
  return std::nullopt;
}

// Every outcome the device may produce at the range's first and last pages, reads and writes.
std::optional<DmaViolation> DmaChecker::probe_range(const Range& r) const {
  for (uint64_t iova : {r.iova, r.iova + (r.len - granule())})
    for (bool write : {false, true})
      for (const hw::AccessResult& res : world_->device.possible(iova, {.write = write}))
        if (auto v = judge_access(iova, write, res)) return v;
  return std::nullopt;
}

std::optional<DmaViolation> DmaChecker::access(uint64_t iova, bool write, std::string& out,
                                               bool show) {
  auto describe = [&](const hw::AccessResult& res) {
    return res.ok()
               ? fmt::format("paddr {:#x} (from {})", res.paddr(iova), hw::source_name(res.source))
               : fmt::format("fault (from {})", hw::source_name(res.source));
  };
  for (const hw::AccessResult& res : world_->device.possible(iova, {.write = write})) {
    if (auto v = judge_access(iova, write, res)) {
      if (show) out = "may give " + describe(res);
      return v;
    }
  }
  const hw::AccessResult res = world_->device.translate(iova, {.write = write});
  if (res.ok() && !live_at(iova)) ++stale_hits_;
  if (show) out = describe(res);
  return judge_access(iova, write, res);
}

std::optional<DmaViolation> DmaChecker::judge_access(uint64_t iova, bool write,
                                                     const hw::AccessResult& res) const {
  const char* kind = write ? "write" : "read";
  if (const Range* m = live_at(iova)) {
    const uint64_t want = m->paddr + (iova - m->iova);
    const bool allowed = (m->prot & (write ? IOMMU_WRITE : IOMMU_READ)) != 0;
    if (!res.ok()) {
      if (!allowed) return std::nullopt;
      return DmaViolation{"translation", fmt::format("a {} of live iova {:#x} ({}) faults", kind,
                                                     iova, prot_to_string(m->prot))};
    }
    if (write && !allowed)
      return DmaViolation{"prot", fmt::format("a write went through read-only iova {:#x}", iova)};
    if (res.paddr(iova) != want)
      return DmaViolation{"translation", fmt::format("live iova {:#x} reaches paddr {:#x}, mapped "
                                                     "to {:#x}",
                                                     iova, res.paddr(iova), want)};
    return std::nullopt;
  }
  if (!res.ok()) return std::nullopt;
  const uint64_t got = res.paddr(iova);
  auto in = [&](const Range& r) { return iova - r.iova < r.len; };
  for (const Stale& s : stale_)
    if (in(s.range) && got == s.range.paddr + (iova - s.range.iova)) return std::nullopt;
  for (auto g = gone_.rbegin(); g != gone_.rend(); ++g)
    if (in(g->range))
      return DmaViolation{
          std::string(g->rule),
          fmt::format("a {} of iova {:#x} reaches paddr {:#x} after {}", kind, iova, got, g->why)};
  return DmaViolation{"unmapped-reachable", fmt::format("a {} of unmapped iova {:#x} reaches paddr "
                                                        "{:#x}",
                                                        kind, iova, got)};
}

std::optional<DmaViolation> DmaChecker::teardown() {
  std::string out;
  std::vector<unsigned> live;
  for (const auto& [name, l] : labels_)
    if (l.live) live.push_back(name);
  for (unsigned name : live) {
    const Label& l = labels_.at(name);
    if (auto v = unmap(l.iova, l.size, 0, out))
      return DmaViolation{v->rule, "teardown: " + v->detail};
  }
  if (auto v = drain(out)) return DmaViolation{v->rule, "teardown: " + v->detail};
  for (const Gone& g : gone_)
    if (auto v = probe_range(g.range)) return DmaViolation{v->rule, "teardown: " + v->detail};
  return std::nullopt;
}

}  // namespace iommu::conform
