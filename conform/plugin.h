// Drivers built as shared objects against conform/iommucheck_driver.h (`plugin:PATH.so`).
// docs/PLUGINS.md describes the ABI.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "conform/driver.h"

struct iommucheck_driver;

namespace iommu::conform {

// Why a plugin cannot be used: "plugin PATH: what is wrong", one line.
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A plugin loaded and checked once: page tables are created from it without loading it again,
// so the child process of an isolated run never enters the dynamic loader (another thread of
// the parent may have held its lock when it forked).
class Plugin {
 public:
  // Loads and checks the plugin at `path` as load_plugin does; throws PluginError.
  explicit Plugin(const std::string& path);
  const DriverInfo& info() const { return info_; }
  // Names the drivers created from now on as something other than `plugin:PATH` (a linux:
  // driver is a plugin built from a kernel tree).
  void rename(std::string name, std::string description) {
    info_.name = std::move(name);
    info_.description = std::move(description);
  }
  // Creates one page table in `env`, passing `options` to the plugin's create(); throws
  // PluginError when create() fails.
  std::unique_ptr<Driver> create(DriverEnv& env, const std::string& options = "") const;

 private:
  std::string path_;
  std::shared_ptr<void> library_;
  const iommucheck_driver* desc_;
  DriverInfo info_;
};

// What the plugin at `path` declares, checked as load_plugin checks it, without creating a
// page table.
DriverInfo plugin_info(const std::string& path);

// Loads the plugin at `path`, checks what it declares, and creates one page table in `env`,
// passing `options` to its create(). The driver keeps the shared object loaded. Throws
// PluginError when the file is missing or not a loadable shared object, lacks the entry
// symbol, has an ABI version this host does not load, lacks an operation, declares a
// configuration the reference cannot hold it to, an unknown hw format or a start level the
// format cannot have, or when create() fails.
std::unique_ptr<Driver> load_plugin(const std::string& path, DriverEnv& env,
                                    const std::string& options = "");

}  // namespace iommu::conform
