#include "conform/fuzz_driver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "conform/plugin.h"
#include "conform/registry.h"
#include "hw/format.h"

namespace iommu::conform {
namespace {

bool known_format(std::string_view format) {
  for (std::string_view f : hw::format_names())
    if (f == format) return true;
  return false;
}

// The plugins a build provides, by format.
using PluginPaths = std::map<std::string, std::string>;

// What the child reports: 'K' and one "FORMAT\tPATH" line per plugin, or 'E' and the error.
std::string encode(const PluginPaths& plugins) {
  std::string out = "K";
  for (const auto& [format, path] : plugins) out += format + "\t" + path + "\n";
  return out;
}

PluginPaths decode(const std::string& report, const std::string& kernel_dir) {
  if (report.empty() || report[0] != 'K') {
    throw DriverError(report.empty()
                          ? fmt::format("kernel {}: the build process died", kernel_dir)
                          : report.substr(1));
  }
  PluginPaths plugins;
  std::istringstream lines(report.substr(1));
  for (std::string line; std::getline(lines, line);) {
    const size_t tab = line.find('\t');
    plugins[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return plugins;
}

void write_all(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// build_linux_drivers (or load_linux_build, for a prebuilt directory) in a child process: its
// probe's dlopen and dlclose stay out of this one.
PluginPaths build_in_child(const std::string& kernel_dir, const LinuxBuildOptions& options,
                           bool prebuilt) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw DriverError("fuzz driver: pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string report;
    try {
      PluginPaths plugins;
      const LinuxBuild build =
          prebuilt ? load_linux_build(kernel_dir) : build_linux_drivers(kernel_dir, options);
      for (const auto& [format, path] : build.plugins) plugins[format] = path.string();
      report = encode(plugins);
    } catch (const std::exception& e) {
      report = std::string("E") + e.what();
    }
    write_all(fds[1], report);
    _exit(0);  // no exit handlers: they belong to the parent (libFuzzer's, the leak checker's)
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0) report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid)
    throw DriverError("fuzz driver: cannot start the build process");
  return decode(report, kernel_dir);
}

// The plugins of the formats the choice can pick, loaded for good.
std::map<std::string, std::shared_ptr<const Plugin>> load(const FuzzDriverChoice& choice,
                                                           const PluginPaths& paths,
                                                           const std::string& kernel_dir) {
  std::map<std::string, std::shared_ptr<const Plugin>> out;
  for (const auto& [format, path] : paths) {
    // Every input picks a hw format, so plain `linux` loads the variant named after each;
    // a coherent or quirk variant is fuzzed when named.
    if (choice.format.empty() ? !known_format(format) : format != choice.format) continue;
    try {
      auto plugin = std::make_shared<Plugin>(path);
      plugin->rename("linux:" + format, fmt::format("Linux io-pgtable from {}", kernel_dir));
      out[format] = plugin;
    } catch (const PluginError& e) {
      throw DriverError(fmt::format("kernel {}: {}", kernel_dir, e.what()));
    }
  }
  if (out.empty())
    throw DriverError(fmt::format("fuzz driver 'linux{}{}': kernel {} provides no such driver "
                                  "(`iommucheck drivers --kernel {}` lists what it provides)",
                                  choice.format.empty() ? "" : ":", choice.format, kernel_dir,
                                  kernel_dir));
  return out;
}

}  // namespace

FuzzDriverChoice parse_fuzz_driver(std::string_view spec, const std::string& kernel_dir) {
  const size_t colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon);
  FuzzDriverChoice choice;
  if (kind != "impl" && kind != "linux")
    throw DriverError(fmt::format("fuzz driver '{}': use impl, impl:FORMAT, linux or "
                                  "linux:FORMAT",
                                  spec));
  choice.linux_tree = kind == "linux";
  if (colon != std::string_view::npos) {
    choice.format = std::string(spec.substr(colon + 1));
    // A linux: variant is checked against what the tree provides, when it is loaded.
    if (!choice.linux_tree && !known_format(choice.format))
      throw DriverError(fmt::format("fuzz driver '{}': no such format (`iommucheck drivers` "
                                    "lists them)",
                                    spec));
  }
  if (choice.linux_tree && kernel_dir.empty())
    throw DriverError(fmt::format("fuzz driver '{}' is built from a Linux tree: give its "
                                  "directory (--kernel)",
                                  spec));
  return choice;
}

FuzzDriverChoice fuzz_driver_choice(std::string_view spec, const std::string& kernel_dir) {
  FuzzDriverChoice choice = parse_fuzz_driver(spec, kernel_dir);
  if (!choice.linux_tree) return choice;
  LinuxBuild build;
  try {
    build = build_linux_drivers(kernel_dir);
  } catch (const LinuxBuildError& e) {
    throw DriverError(e.what());
  }
  PluginPaths paths;
  for (const auto& [format, path] : build.plugins) paths[format] = path.string();
  for (const auto& [format, plugin] : load(choice, paths, kernel_dir))
    choice.linux_configs[format] = plugin->info().config;
  return choice;
}

FuzzDrivers::FuzzDrivers(std::string_view spec, const std::string& kernel_dir,
                         const LinuxBuildOptions& build, bool prebuilt)
    : choice_(parse_fuzz_driver(spec, kernel_dir)) {
  if (!choice_.linux_tree) return;
  const auto plugins = load(choice_, build_in_child(kernel_dir, build, prebuilt), kernel_dir);
  for (const auto& [format, loaded] : plugins) {
    std::shared_ptr<const Plugin> plugin = loaded;
    choice_.linux_configs[format] = plugin->info().config;
    linux_[format] = {plugin->info(), [plugin](DriverEnv& env) { return plugin->create(env); }};
  }
}

DriverSource FuzzDrivers::source(const Trace& trace) const {
  if (!choice_.linux_tree) return configured_source(trace, *trace.driver);
  DriverSource src = linux_.at(trace.driver->substr(std::string_view("linux:").size()));
  src.info.config.invalidation = trace.config->invalidation;
  src.info.config.np_caching = trace.config->np_caching;
  return src;
}

}  // namespace iommu::conform
