#include "conform/checker.h"

#include <fmt/core.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "base/size_name.h"
#include "conform/contract.h"
#include "conform/core_ops.h"
#include "conform/judge.h"
#include "conform/trace.h"
#include "ref/config.h"

namespace iommu::conform {
namespace {

class NullSink : public hw::InvalidationSink {
 public:
  void issue(const hw::Command&) override {}
};

}  // namespace

std::string Violation::message() const {
  return fmt::format("op {} `{}`: {}: {}", op_index + 1, op, check, detail);
}

Checker::Checker(const DriverSource& source, const CheckOptions& opts)
    : info_(source.info),
      opts_(opts),
      lease_(checked_memory_config(source.info.config.oas, opts.table_memory)),
      mem_(lease_.memory()),
      ref_(source.info.config) {
  ref::validate(info_.config);
  if (info_.walkable()) {
    fmt_ = hw::make_format(info_.walk_format());
    device_ = std::make_unique<hw::Device>(
        mem_, *fmt_,
        hw::DeviceConfig{.ctx = kCtx,
                         .iotlb = {.cache = opts.caches, .cache_faults = info_.config.np_caching},
                         .walk_cache = opts.caches});
  } else {
    null_sink_ = std::make_unique<NullSink>();
  }
  impl::IommuDriverConfig iommu = iommu_config(info_, opts.iommu, kCtx);
  iommu.bug = opts.bug;
  iommu_ = std::make_unique<impl::IommuDriver>(device_ ? device_->invalidation() : *null_sink_,
                                               iommu);
  checked_ = std::make_unique<CheckedPgtable>(*iommu_, mem_, info_.config);
  env_.reset(new DriverEnv{mem_, *checked_});
  env_->bug = opts.bug;
  driver_ = source.create(*env_);
  check_model_limit("creating the driver");
  checked_->attach(*driver_, driver_->own_iommu() == nullptr);
  // io-pgtable roots are allocated with the table and never move.
  roots_ = driver_->roots();
  if (device_) device_->set_roots(roots_);
  own_ = driver_->own_iommu();
  impl::IotlbOps& sync_ops = own_ ? static_cast<impl::IotlbOps&>(*own_) : *iommu_;
  domain_ = std::make_unique<impl::Domain>(*checked_, sync_ops, info_.config);
}

Checker::~Checker() = default;

int64_t Checker::apply_driver(const Op& op) {
  auto bytes = [](uint64_t n) { return static_cast<int64_t>(n); };
  return apply_core_op(
      *domain_, op, [&](GatherLabel label) -> impl::IotlbGather& { return gather(label); },
      Overloaded{
          [&](const MapPagesOp& o) -> int64_t {
            uint64_t mapped = 0;
            return checked_->map_pages(o.iova, o.paddr, o.pgsize, o.pgcount, o.prot, &mapped);
          },
          [&](const UnmapPagesOp& o) -> int64_t {
            if (o.gather)
              return bytes(checked_->unmap_pages(o.iova, o.pgsize, o.pgcount, &gather(*o.gather)));
            impl::IotlbGather g;
            const uint64_t n = checked_->unmap_pages(o.iova, o.pgsize, o.pgcount, &g);
            domain_->driver().iotlb_sync(g);
            return bytes(n);
          },
          [](const auto&) -> int64_t { return 0; },  // device accesses: probed in check_op
      });
}

// The op with the table allocation that fail_alloc named failing, and no other.
int64_t Checker::apply_driver_failing(const Op& op) {
  const uint64_t nth = std::exchange(fail_nth_, 0);
  if (nth == 0) return apply_driver(op);
  const uint64_t target = mem_.allocations_requested() + nth;
  mem_.set_failure_hook([target](uint64_t seq, uint64_t) { return seq == target; });
  struct Disarm {
    hw::TableMemory& mem;
    ~Disarm() { mem.set_failure_hook(nullptr); }
  } disarm{mem_};
  return apply_driver(op);
}

StepResult Checker::step(const Op& op) {
  if (!driver_) throw std::logic_error("Checker::step after teardown");
  StepResult r;
  const size_t index = ops_++;
  const bool misuse = contract_verdict(ref_.domain(), op).has_value();
  auto fail = [&](std::string check, std::string detail) {
    r.violation = Violation{index, format_op(op), std::move(check), std::move(detail)};
    if (opts_.record_hw) r.device = device_state(op);
    return r;
  };
  try {
    r.driver = apply_driver_failing(op);
  } catch (const std::exception& e) {
    check_model_limit(fmt::format("op {} `{}`", index + 1, format_op(op)));
    // The core refuses to loop on a result Linux would underflow or spin on; a driver may
    // also give up on what it reads (a poisoned descriptor behind a freed table).
    if (!checked_->violations().empty()) return fail("driver-call", checked_->violations().front());
    return fail("driver-call", fmt::format("the call failed: {}", e.what()));
  }
  check_model_limit(fmt::format("op {} `{}`", index + 1, format_op(op)));
  if (!checked_->violations().empty()) return fail("driver-call", checked_->violations().front());
  if (auto* o = std::get_if<FailAllocOp>(&op)) fail_nth_ = o->nth;
  // The reference runs second so that it can take the driver's allowed choices.
  ref_.follow(checked_->take_choices());
  r.ref = ref_.apply(op);
  if (r.ref != r.driver) {
    return fail("return", fmt::format("{} returned {} ({:#x}); ref {} ({:#x})", op_name(op), r.driver,
                                      r.driver, r.ref, r.ref));
  }
  if (auto why = check_memory()) return fail("memory", *why);
  if (auto why = check_warnings(misuse, r)) return fail("warn", *why);
  for (const Range& s : settled_ranges(op, r.driver)) {
    if (auto why = check_invalidated(s)) return fail("stale", *why);
  }
  try {
    if (auto why = check_op(op, r.hw)) return fail("translation", *why);
  } catch (const std::exception& e) {
    return fail("translation", fmt::format("a probe failed: {}", e.what()));
  }
  return r;
}

// Real exhaustion, not an injected failure: the model, not the driver, ran out.
void Checker::check_model_limit(const std::string& when) const {
  const uint64_t refused = mem_.allocations_refused();
  if (refused == 0) return;
  const hw::TableMemory::Config& c = mem_.config();
  throw ModelLimitError(fmt::format(
      "{}: the model's {} of table memory ({:#x}-{:#x}) ran out ({} table allocation(s) "
      "refused); the driver's answer was not judged",
      when, size_name(c.limit - c.base), c.base, c.limit - 1, refused));
}

std::optional<Violation> Checker::teardown() {
  if (!driver_) return std::nullopt;
  domain_.reset();
  own_ = nullptr;
  driver_.reset();
  Violation v{ops_ == 0 ? 0 : ops_ - 1, "teardown", "", ""};
  if (auto why = check_memory()) {
    v.check = "memory";
    v.detail = *why;
    return v;
  }
  if (auto warnings = env_->warnings.take(); !warnings.empty()) {
    v.check = "warn";
    v.detail = warnings.front();
    return v;
  }
  const auto leaked = mem_.live_allocations();
  if (leaked.empty()) return std::nullopt;
  v.check = "leak";
  v.detail = fmt::format("{} table page(s) still allocated after the driver was destroyed, the "
                         "first at {:#x} ({} bytes)",
                         leaked.size(), leaked.front().paddr, leaked.front().size);
  return v;
}

}  // namespace iommu::conform
