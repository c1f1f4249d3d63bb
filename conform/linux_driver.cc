#include "conform/linux_driver.h"

#include <fmt/format.h>

#include <memory>
#include <stdexcept>

#include "conform/linux_build.h"
#include "conform/linux_coverage.h"
#include "conform/plugin.h"

namespace iommu::conform {
namespace {

std::string describe(const DriverInfo& plugin, const std::string& kernel_dir) {
  // The plugin describes itself as "FORMAT: what it is"; keep what it is.
  const std::string& d = plugin.description;
  const size_t colon = d.find(": ");
  return fmt::format("Linux io-pgtable from {}: {} ({})", kernel_dir,
                     colon == std::string::npos ? d : d.substr(colon + 2),
                     ref::describe(plugin.config));
}

}  // namespace

DriverSource linux_driver_source(std::string_view format, const std::string& kernel_dir) {
  LinuxBuildOptions options;
  options.coverage = linux_coverage_on();
  const LinuxBuild build = build_linux_drivers(kernel_dir, options);
  const std::string name(format);
  if (auto it = build.unavailable.find(name); it != build.unavailable.end())
    throw std::invalid_argument(fmt::format("the tree's code cannot run it: {}", it->second));
  auto it = build.plugins.find(name);
  if (it == build.plugins.end()) {
    std::string known;
    for (const auto& [n, path] : build.plugins) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument(fmt::format("no such format; {} provides {}", kernel_dir, known));
  }
  try {
    auto plugin = std::make_shared<Plugin>(it->second.string());
    plugin->rename("linux:" + name, describe(plugin->info(), kernel_dir));
    if (options.coverage) add_linux_coverage_plugin(build.dir, it->second);
    std::shared_ptr<const Plugin> shared = plugin;
    return {shared->info(), [shared](DriverEnv& env) { return shared->create(env); }};
  } catch (const PluginError& e) {
    throw LinuxBuildError(fmt::format("kernel {}: {}", kernel_dir, e.what()));
  } catch (const LinuxCoverageError& e) {
    throw LinuxBuildError(e.what());
  }
}

std::vector<std::pair<std::string, std::string>> linux_drivers(const std::string& kernel_dir) {
  std::vector<std::pair<std::string, std::string>> out;
  const LinuxBuild build = build_linux_drivers(kernel_dir);
  for (const std::string& variant : build.variants) {
    if (auto why = build.unavailable.find(variant); why != build.unavailable.end()) {
      out.emplace_back("linux:" + variant, "unavailable: " + why->second);
      continue;
    }
    auto it = build.plugins.find(variant);
    if (it == build.plugins.end()) continue;
    Plugin plugin(it->second.string());
    out.emplace_back("linux:" + it->first, describe(plugin.info(), kernel_dir));
  }
  return out;
}

}  // namespace iommu::conform
