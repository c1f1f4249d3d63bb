#include "conform/registry.h"

#include <fmt/core.h>

#include <filesystem>

#include "conform/impl_driver.h"
#include "conform/linux_build.h"
#include "conform/linux_driver.h"
#include "conform/plugin.h"
#include "conform/virtio_driver.h"
#include "impl/pgtable.h"

namespace iommu::conform {
namespace {

constexpr std::string_view kForms =
    "impl:FORMAT (or impl-refuse:FORMAT, impl-whole:FORMAT), plugin:PATH.so, linux:FORMAT, "
    "virtio and virtio-sync";

// The name carries the absolute path, so that a trace written with it replays from anywhere.
DriverSource plugin_source(const std::string& given) {
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(given, ec);
  const std::string path = ec ? given : abs.lexically_normal().string();
  try {
    auto plugin = std::make_shared<const Plugin>(path);
    return {plugin->info(), [plugin](DriverEnv& env) { return plugin->create(env); }};
  } catch (const PluginError& e) {
    throw DriverError(e.what());
  }
}

DriverSource linux_source(std::string_view name, const std::string& format,
                          const std::string& kernel_dir) {
  if (kernel_dir.empty())
    throw DriverError(fmt::format(
        "driver '{}' is built from a Linux tree: give its directory with --kernel DIR", name));
  try {
    return linux_driver_source(format, kernel_dir);
  } catch (const LinuxBuildError& e) {
    throw DriverError(e.what());
  } catch (const std::invalid_argument& e) {
    throw DriverError(fmt::format("driver '{}': {}", name, e.what()));
  }
}

}  // namespace

std::vector<DriverListing> available_drivers(const std::string& kernel_dir) {
  std::vector<DriverListing> out;
  for (auto policy : {ref::PartialUnmap::kSplit, ref::PartialUnmap::kRefuse,
                      ref::PartialUnmap::kWhole}) {
    for (std::string_view f : impl::pgtable_formats()) {
      const DriverSource src = impl_driver_source(f, policy);
      out.push_back({src.info.name, src.info.description});
    }
  }
  for (auto requests : {impl::VirtioRequests::kQueued, impl::VirtioRequests::kSynchronous}) {
    const DriverSource src = virtio_driver_source(requests);
    out.push_back({src.info.name, src.info.description});
  }
  out.push_back({"plugin:PATH.so",
                 "a driver built as a shared object against conform/iommucheck_driver.h "
                 "(docs/PLUGINS.md)"});
  if (kernel_dir.empty()) {
    out.push_back({"linux:FORMAT", "Linux io-pgtable code of a kernel tree given with --kernel DIR "
                                   "(docs/LINUX.md)"});
    return out;
  }
  try {
    for (auto& [name, description] : linux_drivers(kernel_dir)) out.push_back({name, description});
  } catch (const LinuxBuildError& e) {
    throw DriverError(e.what());
  }
  return out;
}

DriverSource resolve_driver(std::string_view name, const std::string& kernel_dir) {
  const auto colon = name.find(':');
  const std::string_view kind = name.substr(0, colon);
  const std::string rest(colon == std::string_view::npos ? "" : name.substr(colon + 1));
  const auto policy = impl_policy(kind);
  if (policy && colon != std::string_view::npos) {
    try {
      return impl_driver_source(rest, *policy);
    } catch (const std::invalid_argument& e) {
      throw DriverError(fmt::format("driver '{}': {}", name, e.what()));
    }
  }
  if (auto requests = virtio_requests(name)) return virtio_driver_source(*requests);
  if (kind == "plugin" && !rest.empty()) return plugin_source(rest);
  if (kind == "linux" && colon != std::string_view::npos) return linux_source(name, rest, kernel_dir);
  throw DriverError(fmt::format("unknown driver '{}': driver names have the form {}", name, kForms));
}

DriverSource configured_source(const Trace& trace, const std::string& driver_name,
                               const std::string& kernel_dir) {
  DriverSource src = resolve_driver(driver_name, kernel_dir);
  if (!trace.config) return src;
  const ref::DomainConfig& want = *trace.config;
  const size_t colon = driver_name.find(':');
  if (want.partial_unmap != src.info.config.partial_unmap &&
      impl_policy(std::string_view(driver_name).substr(0, colon))) {
    src = impl_driver_source(driver_name.substr(colon + 1), want.partial_unmap);
  }
  ref::DomainConfig& have = src.info.config;
  if (want.pgsize_bitmap != have.pgsize_bitmap || want.ias != have.ias || want.oas != have.oas ||
      want.partial_unmap != have.partial_unmap) {
    throw DriverError(fmt::format("{} declares `{}`; the trace needs `{}`", driver_name,
                                  ref::describe(have), ref::describe(want)));
  }
  have.invalidation = want.invalidation;
  have.np_caching = want.np_caching;
  return src;
}

}  // namespace iommu::conform
