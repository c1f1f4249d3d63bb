#include "conform/plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include "conform/iommucheck_driver.h"
#include "conform/plugin_driver.h"
#include "ref/config.h"

namespace iommu::conform {
namespace {

[[noreturn]] void fail(const std::string& path, std::string_view problem) {
  throw PluginError(fmt::format("plugin {}: {}", path, problem));
}

std::shared_ptr<void> open_library(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "no such file");
  // Without a slash dlopen would search the library path instead of opening this file.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) fail(path, fmt::format("not a loadable shared object: {}", dlerror()));
  return {handle, [](void* h) { dlclose(h); }};
}

const iommucheck_driver& descriptor(const std::string& path, void* library) {
  dlerror();
  void* sym = dlsym(library, IOMMUCHECK_DRIVER_SYMBOL);
  if (!sym)
    fail(path, fmt::format("does not export the symbol {} (conform/iommucheck_driver.h)",
                           IOMMUCHECK_DRIVER_SYMBOL));
  auto entry = reinterpret_cast<iommucheck_driver_descriptor_fn>(sym);
  const iommucheck_driver* desc = entry(IOMMUCHECK_DRIVER_ABI_VERSION);
  if (!desc) fail(path, fmt::format("{}() returned NULL", IOMMUCHECK_DRIVER_SYMBOL));
  if (desc->abi_version < IOMMUCHECK_DRIVER_ABI_VERSION_MIN ||
      desc->abi_version > IOMMUCHECK_DRIVER_ABI_VERSION)
    fail(path, fmt::format("ABI version {}, but this iommucheck supports versions {} to {}; "
                           "rebuild it against this iommucheck's conform/iommucheck_driver.h",
                           desc->abi_version, IOMMUCHECK_DRIVER_ABI_VERSION_MIN,
                           IOMMUCHECK_DRIVER_ABI_VERSION));
  return *desc;
}

void require_operations(const std::string& path, const iommucheck_driver& d, bool walkable) {
  const std::pair<const char*, bool> ops[] = {
      {"create", d.create != nullptr},       {"destroy", d.destroy != nullptr},
      {"map_pages", d.map_pages != nullptr}, {"unmap_pages", d.unmap_pages != nullptr},
      {"iova_to_phys", d.iova_to_phys != nullptr},
      {"roots", d.roots != nullptr || !walkable}};
  for (const auto& [name, present] : ops)
    if (!present) fail(path, fmt::format("the descriptor has no {} function", name));
}

ref::DomainConfig declared_config(const std::string& path, const iommucheck_driver& d) {
  if (d.partial_unmap > IOMMUCHECK_PARTIAL_UNMAP_WHOLE)
    fail(path, fmt::format("declared configuration is invalid: partial_unmap={} is not one of "
                           "SPLIT (0), REFUSE (1), WHOLE (2)",
                           d.partial_unmap));
  ref::DomainConfig cfg;
  cfg.pgsize_bitmap = d.pgsize_bitmap;
  cfg.ias = d.ias;
  cfg.oas = d.oas;
  cfg.partial_unmap = static_cast<ref::PartialUnmap>(d.partial_unmap);
  try {
    ref::validate(cfg);
  } catch (const ref::ConfigError& e) {
    fail(path, fmt::format("declared configuration is invalid: {}", e.what()));
  }
  return cfg;
}

// The declared start level; empty for the format's default. A version-1 descriptor ends
// before hw_start_level, so it is not read there.
std::optional<unsigned> declared_start_level(const std::string& path,
                                             const iommucheck_driver& d) {
  if (d.abi_version < 2 || d.hw_start_level == IOMMUCHECK_HW_START_LEVEL_DEFAULT) return {};
  if (d.hw_start_level < 0)
    fail(path, fmt::format("hw_start_level {} is neither a level nor "
                           "IOMMUCHECK_HW_START_LEVEL_DEFAULT (-1)",
                           d.hw_start_level));
  if (!d.hw_format || !*d.hw_format)
    fail(path, fmt::format("declares hw_start_level {} but no hw_format to walk from it",
                           d.hw_start_level));
  return static_cast<unsigned>(d.hw_start_level);
}

// The declared hw format, checked against the declared configuration: the walker must be able
// to build it with the same ias/oas and start level, and it must hold every declared page size
// as a leaf.
hw::FormatConfig declared_format(const std::string& path, const iommucheck_driver& d,
                                 const ref::DomainConfig& cfg) {
  const std::optional<unsigned> start_level = declared_start_level(path, d);
  if (!d.hw_format || !*d.hw_format) return {};
  const std::string name = d.hw_format;
  const auto names = hw::format_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    fail(path, fmt::format("unknown hw format '{}'; valid formats: {}", name,
                           fmt::join(names, ", ")));
  hw::FormatConfig fc{name, cfg.ias, cfg.oas, d.hw_granule, start_level};
  uint64_t leaves = 0;
  try {
    leaves = hw::make_format(fc).geo().pgsize_bitmap;
  } catch (const std::invalid_argument& e) {
    fail(path, fmt::format("hw format '{}' cannot express the declared configuration: {}",
                           name, e.what()));
  }
  if (cfg.pgsize_bitmap & ~leaves)
    fail(path, fmt::format("declares page sizes {} but hw format '{}' has leaves of {} only",
                           ref::pgsize_bitmap_name(cfg.pgsize_bitmap), name,
                           ref::pgsize_bitmap_name(leaves)));
  return fc;
}

// The declared flags; a version-2 or earlier descriptor ends before them.
uint64_t declared_flags(const std::string& path, const iommucheck_driver& d) {
  if (d.abi_version < 3) return 0;
  if (d.flags & ~uint64_t{IOMMUCHECK_DRIVER_KNOWN_FLAGS})
    fail(path, fmt::format("flags {:#x} has bits this iommucheck does not know (it knows {:#x})",
                           d.flags, uint64_t{IOMMUCHECK_DRIVER_KNOWN_FLAGS}));
  return d.flags;
}

DriverInfo declared_info(const std::string& path, const iommucheck_driver& d) {
  DriverInfo info;
  info.name = "plugin:" + path;
  const std::string own = d.name ? d.name : std::filesystem::path(path).stem().string();
  info.description = d.description ? fmt::format("{}: {}", own, d.description) : own;
  info.config = declared_config(path, d);
  info.format = declared_format(path, d, info.config);
  require_operations(path, d, info.walkable());
  info.concurrent = (declared_flags(path, d) & IOMMUCHECK_DRIVER_CONCURRENT) != 0;
  return info;
}

std::string errno_text(int ret) {
  if (ret >= 0) return fmt::format("{} (not a negative errno)", ret);
  const char* name = strerrorname_np(-ret);
  return fmt::format("{} ({})", ret, name ? name : "unknown errno");
}

}  // namespace

Plugin::Plugin(const std::string& path)
    : path_(path),
      library_(open_library(path)),
      desc_(&descriptor(path, library_.get())),
      info_(declared_info(path, *desc_)) {}

std::unique_ptr<Driver> Plugin::create(DriverEnv& env, const std::string& options) const {
  auto driver = std::make_unique<PluginDriver>(library_, *desc_, info_, env);
  if (int ret = driver->create(options); ret != 0)
    fail(path_, fmt::format("create() failed with {}", errno_text(ret)));
  return driver;
}

DriverInfo plugin_info(const std::string& path) { return Plugin(path).info(); }

std::unique_ptr<Driver> load_plugin(const std::string& path, DriverEnv& env,
                                    const std::string& options) {
  return Plugin(path).create(env, options);
}

}  // namespace iommu::conform
