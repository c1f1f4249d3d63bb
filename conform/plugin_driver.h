// The adapter between a loaded plugin and the Driver interface: the host callbacks of
// conform/iommucheck_driver.h mapped onto hw::TableMemory, impl::FlushOps and the WarningLog.
// Internal to conform/; load_plugin (conform/plugin.h) is the way in.
#pragma once

#include <exception>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "conform/driver.h"
#include "conform/iommucheck_driver.h"

namespace iommu::conform {

// The ABI promises a plugin one call at a time per handle, so every call takes mu_ exclusively;
// a plugin that declares IOMMUCHECK_DRIVER_CONCURRENT shares it between map_pages, unmap_pages
// and iova_to_phys. The callbacks run inside those calls, on the calling thread, so what one
// call needs of them (its gather, an exception parked) is kept per call on that thread.
class PluginDriver final : public Driver {
 public:
  // `library` keeps the shared object loaded; `desc` has been validated (every operation
  // present, roots too when info.walkable()).
  PluginDriver(std::shared_ptr<void> library, const iommucheck_driver& desc, DriverInfo info,
               DriverEnv& env);
  ~PluginDriver() override;
  PluginDriver(const PluginDriver&) = delete;
  PluginDriver& operator=(const PluginDriver&) = delete;

  // Calls the plugin's create(); 0 or its negative errno.
  int create(const std::string& options);

  const DriverInfo& info() const override { return info_; }
  std::vector<uint64_t> roots() const override;

  int map_pages(uint64_t iova, uint64_t paddr, uint64_t pgsize, uint64_t pgcount, int prot,
                uint64_t* mapped) override;
  uint64_t unmap_pages(uint64_t iova, uint64_t pgsize, uint64_t pgcount,
                       impl::IotlbGather* gather) override;
  uint64_t iova_to_phys(uint64_t iova) override;

 private:
  struct Callbacks;
  class Call;

  void host_error(std::string message);
  // Host exceptions cannot unwind through the plugin's C frames: a callback parks the first
  // one in its call's state and it is rethrown once the plugin's function has returned.
  void park(std::exception_ptr e);

  // More than any hw format has (apple-dart: 4 TTBRs).
  static constexpr size_t kMaxRoots = 16;

  mutable std::shared_mutex mu_;
  std::shared_ptr<void> library_;
  const iommucheck_driver& desc_;
  DriverInfo info_;
  DriverEnv& env_;
  iommucheck_host host_{};
  void* handle_ = nullptr;
};

}  // namespace iommu::conform
