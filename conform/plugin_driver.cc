#include "conform/plugin_driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace iommu::conform {

// One call into the plugin on this thread: the lock it holds, the gather its unmap_pages
// received and the first host exception a callback parked.
class PluginDriver::Call {
 public:
  Call(const PluginDriver& d, bool exclusive, impl::IotlbGather* gather = nullptr)
      : driver_(&d), gather_(gather), outer_(current_) {
    if (exclusive || !d.info_.concurrent)
      exclusive_ = std::unique_lock(d.mu_);
    else
      shared_ = std::shared_lock(d.mu_);
    current_ = this;
  }
  ~Call() { current_ = outer_; }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // The call of `d` in progress on this thread, or null.
  static Call* of(const PluginDriver& d) {
    return current_ && current_->driver_ == &d ? current_ : nullptr;
  }
  impl::IotlbGather* gather() const { return gather_; }
  void park(std::exception_ptr e) {
    if (!parked_) parked_ = std::move(e);
  }
  std::exception_ptr take_parked() { return std::exchange(parked_, nullptr); }
  void rethrow_parked() {
    if (parked_) std::rethrow_exception(take_parked());
  }

 private:
  static thread_local Call* current_;
  const PluginDriver* driver_;
  impl::IotlbGather* gather_;
  Call* outer_;
  std::unique_lock<std::shared_mutex> exclusive_;
  std::shared_lock<std::shared_mutex> shared_;
  std::exception_ptr parked_;
};

thread_local PluginDriver::Call* PluginDriver::Call::current_ = nullptr;

// The host callbacks. A misuse of table memory by the plugin (a bad size, a double free, a
// misaligned access) is a finding, reported to the WarningLog; anything else thrown on the
// host side is parked and rethrown after the plugin returns.
struct PluginDriver::Callbacks {
  static PluginDriver& self(void* ctx) { return *static_cast<PluginDriver*>(ctx); }

  template <class Fn, class R>
  static R memory_op(void* ctx, const char* what, R fallback, Fn fn) noexcept {
    PluginDriver& d = self(ctx);
    try {
      return fn(d.env_.memory);
    } catch (const std::logic_error& e) {
      d.host_error(fmt::format("{}: {}", what, e.what()));
    } catch (...) {
      d.park(std::current_exception());
    }
    return fallback;
  }

  template <class Fn>
  static void flush_op(void* ctx, Fn fn) noexcept {
    try {
      fn(self(ctx).env_.flush);
    } catch (...) {
      self(ctx).park(std::current_exception());
    }
  }

  static uint64_t alloc_table(void* ctx, uint64_t size, uint64_t align) noexcept {
    return memory_op(ctx, "alloc_table", uint64_t{0}, [&](hw::TableMemory& m) {
      return m.alloc(size, align).value_or(0);
    });
  }
  static void free_table(void* ctx, uint64_t paddr) noexcept {
    memory_op(ctx, "free_table", 0, [&](hw::TableMemory& m) {
      m.free(paddr);
      return 0;
    });
  }
  static uint64_t read64(void* ctx, uint64_t paddr) noexcept {
    return memory_op(ctx, "read64", uint64_t{0}, [&](hw::TableMemory& m) { return m.read64(paddr); });
  }
  static uint32_t read32(void* ctx, uint64_t paddr) noexcept {
    return memory_op(ctx, "read32", uint32_t{0}, [&](hw::TableMemory& m) { return m.read32(paddr); });
  }
  static void write64(void* ctx, uint64_t paddr, uint64_t value) noexcept {
    memory_op(ctx, "write64", 0, [&](hw::TableMemory& m) {
      m.write64(paddr, value);
      return 0;
    });
  }
  static void write32(void* ctx, uint64_t paddr, uint32_t value) noexcept {
    memory_op(ctx, "write32", 0, [&](hw::TableMemory& m) {
      m.write32(paddr, value);
      return 0;
    });
  }

  static void tlb_flush_all(void* ctx) noexcept {
    flush_op(ctx, [](impl::FlushOps& f) { f.tlb_flush_all(); });
  }
  static void tlb_flush_walk(void* ctx, uint64_t iova, uint64_t size, uint64_t granule) noexcept {
    flush_op(ctx, [&](impl::FlushOps& f) { f.tlb_flush_walk(iova, size, granule); });
  }
  static void tlb_add_page(void* ctx, void* gather, uint64_t iova, uint64_t granule) noexcept {
    PluginDriver& d = self(ctx);
    const Call* call = Call::of(d);
    impl::IotlbGather* own = call ? call->gather() : nullptr;
    if (gather == nullptr || gather != own) {
      d.host_error(fmt::format("tlb_add_page(iova={:#x}, granule={:#x}) with a gather that is "
                               "not the one unmap_pages received",
                               iova, granule));
      return;
    }
    if (own->queued) return;  // iommu_iotlb_gather_queued(): the flush queue covers it
    flush_op(ctx, [&](impl::FlushOps& f) { f.tlb_add_page(*own, iova, granule); });
  }

  static void warn(void* ctx, const char* message) noexcept {
    try {
      self(ctx).env_.warnings.report(message ? message : "(null message)");
    } catch (...) {
      self(ctx).park(std::current_exception());
    }
  }
};

PluginDriver::PluginDriver(std::shared_ptr<void> library, const iommucheck_driver& desc,
                           DriverInfo info, DriverEnv& env)
    : library_(std::move(library)), desc_(desc), info_(std::move(info)), env_(env) {
  host_ = {
      .ctx = this,
      .alloc_table = Callbacks::alloc_table,
      .free_table = Callbacks::free_table,
      .read64 = Callbacks::read64,
      .write64 = Callbacks::write64,
      .read32 = Callbacks::read32,
      .write32 = Callbacks::write32,
      .tlb_flush_all = Callbacks::tlb_flush_all,
      .tlb_flush_walk = Callbacks::tlb_flush_walk,
      .tlb_add_page = Callbacks::tlb_add_page,
      .warn = Callbacks::warn,
  };
}

PluginDriver::~PluginDriver() {
  if (!handle_) return;
  std::exception_ptr parked;
  {
    Call call(*this, true);
    desc_.destroy(handle_);
    parked = call.take_parked();
  }
  if (!parked) return;
  try {
    std::rethrow_exception(parked);
  } catch (const std::exception& e) {
    host_error(fmt::format("host error while the plugin was destroyed: {}", e.what()));
  } catch (...) {
    host_error("host error while the plugin was destroyed");
  }
}

void PluginDriver::host_error(std::string message) {
  env_.host_errors.report(fmt::format("{}: {}", info_.name, message));
}

// A callback outside any call the host made breaks the ABI's threading rule.
void PluginDriver::park(std::exception_ptr e) {
  if (Call* call = Call::of(*this)) return call->park(std::move(e));
  host_error("a host callback was made outside any call the host made into the plugin");
}

int PluginDriver::create(const std::string& options) {
  Call call(*this, true);
  void* handle = nullptr;
  const int ret = desc_.create(&host_, options.c_str(), &handle);
  if (ret == 0) handle_ = handle;
  call.rethrow_parked();
  return ret;
}

std::vector<uint64_t> PluginDriver::roots() const {
  if (!info_.walkable()) return {};
  Call call(*this, true);
  std::vector<uint64_t> out(4);
  size_t n = desc_.roots(handle_, out.data(), out.size());
  if (n > kMaxRoots) {
    // Not a count to allocate for: a finding, walked from the roots it did write.
    env_.warnings.report(fmt::format("{}: roots() returned {}; no hw format has more than {} "
                                     "root tables",
                                     info_.name, n, kMaxRoots));
  } else if (n > out.size()) {
    out.resize(n);
    n = desc_.roots(handle_, out.data(), out.size());
  }
  out.resize(std::min(n, out.size()));
  return out;
}

int PluginDriver::map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount,
                            int prot, uint64_t* mapped) {
  Call call(*this, false);
  const int ret = desc_.map_pages(handle_, iova, paddr, pgsize, pgcount, prot, mapped);
  call.rethrow_parked();
  return ret;
}

uint64_t PluginDriver::unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                                   impl::IotlbGather* gather) {
  impl::IotlbGather scratch;  // io-pgtable callers may pass none; a plugin always gets one
  if (!gather) gather = &scratch;
  Call call(*this, false, gather);
  const uint64_t ret = desc_.unmap_pages(handle_, iova, pgsize, pgcount, gather);
  call.rethrow_parked();
  return ret;
}

uint64_t PluginDriver::iova_to_phys(uint64_t iova) {
  Call call(*this, false);
  const uint64_t ret = desc_.iova_to_phys(handle_, iova);
  call.rethrow_parked();
  return ret;
}

}  // namespace iommu::conform
