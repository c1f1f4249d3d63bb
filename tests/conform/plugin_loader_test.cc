// load_plugin: what it reads from a plugin, each PluginError with its exact message, and how
// the host callbacks turn a plugin's misuse of table memory into findings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "conform/plugin.h"

namespace iommu::conform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string plugin_path(const std::string& file) {
  return std::string(IOMMUCHECK_PLUGIN_DIR) + "/" + file;
}

class NoFlush : public impl::FlushOps {
 public:
  void tlb_flush_all() override {}
  void tlb_flush_walk(uint64_t, uint64_t, uint64_t) override {}
  void tlb_add_page(impl::IotlbGather&, uint64_t, uint64_t) override {}
};

struct Loader : ::testing::Test {
  hw::TableMemory memory;
  NoFlush flush;
  DriverEnv env{memory, flush};

  // The message load_plugin throws for `path`, or "" when it loads.
  std::string error(const std::string& path, const std::string& options = "") {
    try {
      load_plugin(path, env, options);
    } catch (const PluginError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(Loader, ReadsWhatTheExamplePluginDeclares) {
  const std::string path = plugin_path("example_plugin.so");
  auto driver = load_plugin(path, env);
  const DriverInfo& info = driver->info();
  EXPECT_EQ(info.name, "plugin:" + path);
  EXPECT_EQ(info.description,
            "example-lpae-s1-4k: example plugin: ARM LPAE stage 1, 4K granule, 48-bit, partial "
            "unmap WHOLE");
  EXPECT_EQ(ref::describe(info.config),
            "pgsizes=4K|2M|1G ias=48 oas=48 partial=whole np_caching=off strict");
  EXPECT_EQ(info.format.name, "arm-64-lpae-s1-4k");
  EXPECT_EQ(info.format.ias, 48u);
  EXPECT_EQ(info.format.oas, 48u);
  ASSERT_TRUE(info.walkable());
  EXPECT_THAT(driver->roots(), ElementsAre(memory.live_allocations().at(0).paddr));
  driver.reset();
  EXPECT_TRUE(memory.live_allocations().empty());
}

TEST_F(Loader, OpensAPathWithoutASlashInTheWorkingDirectory) {
  // dlopen would search the library path for "example_plugin.so"; the loader must not.
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(IOMMUCHECK_PLUGIN_DIR);
  EXPECT_EQ(error("example_plugin.so"), "");
  std::filesystem::current_path(cwd);
}

TEST_F(Loader, MissingFile) {
  EXPECT_EQ(error("/nonexistent/plugin.so"), "plugin /nonexistent/plugin.so: no such file");
}

TEST_F(Loader, NotASharedObject) {
  const std::string path = ::testing::TempDir() + "not_a_plugin.so";
  std::ofstream(path) << "plain text\n";
  EXPECT_THAT(error(path), StartsWith("plugin " + path + ": not a loadable shared object: "));
  EXPECT_THAT(error(path), HasSubstr("not_a_plugin.so"));  // dlerror() names the file too
  std::remove(path.c_str());
}

TEST_F(Loader, MissingSymbol) {
  const std::string path = plugin_path("bad_plugin_no_symbol.so");
  EXPECT_EQ(error(path), "plugin " + path + ": does not export the symbol iommucheck_driver_descriptor "
                         "(conform/iommucheck_driver.h)");
}

TEST_F(Loader, AbiVersionMismatch) {
  const std::string path = plugin_path("bad_plugin_abi_version.so");
  EXPECT_EQ(error(path), "plugin " + path + ": ABI version 99, but this iommucheck supports "
                         "versions 1 to 3; rebuild it against this iommucheck's "
                         "conform/iommucheck_driver.h");
}

TEST_F(Loader, ReadsTheStartLevelOfAVersion2Descriptor) {
  auto driver = load_plugin(plugin_path("example_plugin_s2.so"), env);
  const hw::FormatConfig& f = driver->info().format;
  EXPECT_EQ(f.name, "arm-64-lpae-s2-4k");
  EXPECT_EQ(f.ias, 40u);
  EXPECT_EQ(f.start_level, 0u);
  // The default example declares IOMMUCHECK_HW_START_LEVEL_DEFAULT.
  EXPECT_EQ(load_plugin(plugin_path("example_plugin.so"), env)->info().format.start_level,
            std::nullopt);
}

TEST_F(Loader, Version1DescriptorsLoadWithTheDefaultStartLevel) {
  // Its hw_start_level (2, which the format cannot have) lies past a version-1 descriptor.
  auto driver = load_plugin(plugin_path("example_plugin_v1.so"), env);
  EXPECT_EQ(driver->info().format.name, "arm-64-lpae-s1-4k");
  EXPECT_EQ(driver->info().format.start_level, std::nullopt);
}

TEST_F(Loader, FlagsAreReadOnlyFromAVersion3Descriptor) {
  // Its flags (CONCURRENT) lie past a version-2 descriptor.
  EXPECT_FALSE(load_plugin(plugin_path("example_plugin_v2.so"), env)->info().concurrent);
  EXPECT_FALSE(load_plugin(plugin_path("example_plugin.so"), env)->info().concurrent);
  const std::string path = plugin_path("bad_plugin_flags.so");
  EXPECT_EQ(error(path), "plugin " + path + ": flags 0x4 has bits this iommucheck does not know "
                         "(it knows 0x1)");
}

TEST_F(Loader, StartLevelTheHwFormatCannotHave) {
  const std::string path = plugin_path("bad_plugin_start_level.so");
  EXPECT_EQ(error(path), "plugin " + path + ": hw format 'arm-64-lpae-s1-4k' cannot express "
                         "the declared configuration: start level 1 not possible at ias 48: "
                         "this format starts at level 0");
}

TEST_F(Loader, NegativeStartLevel) {
  const std::string path = plugin_path("bad_plugin_start_sign.so");
  EXPECT_EQ(error(path), "plugin " + path + ": hw_start_level -2 is neither a level nor "
                         "IOMMUCHECK_HW_START_LEVEL_DEFAULT (-1)");
}

TEST_F(Loader, StartLevelWithoutHwFormat) {
  const std::string path = plugin_path("bad_plugin_start_no_format.so");
  EXPECT_EQ(error(path), "plugin " + path + ": declares hw_start_level 1 but no hw_format to "
                         "walk from it");
}

TEST_F(Loader, MissingOperation) {
  const std::string path = plugin_path("bad_plugin_no_map.so");
  EXPECT_EQ(error(path), "plugin " + path + ": the descriptor has no map_pages function");
}

TEST_F(Loader, InvalidDeclaredConfiguration) {
  const std::string path = plugin_path("bad_plugin_config.so");
  EXPECT_EQ(error(path), "plugin " + path + ": declared configuration is invalid: ias=99 is "
                         "out of range: it must be 12..64");
}

TEST_F(Loader, InvalidPartialUnmapPolicy) {
  const std::string path = plugin_path("bad_plugin_policy.so");
  EXPECT_EQ(error(path), "plugin " + path + ": declared configuration is invalid: "
                         "partial_unmap=7 is not one of SPLIT (0), REFUSE (1), WHOLE (2)");
}

TEST_F(Loader, HwFormatThatCannotWalkTheDeclaredIas) {
  const std::string path = plugin_path("bad_plugin_format_ias.so");
  EXPECT_EQ(error(path), "plugin " + path + ": hw format 'arm-64-lpae-s1-4k' cannot express "
                         "the declared configuration: ias 52 out of range: this format takes "
                         "32..48");
}

TEST_F(Loader, PageSizeTheHwFormatHasNoLeafFor) {
  const std::string path = plugin_path("bad_plugin_pgsize.so");
  EXPECT_EQ(error(path), "plugin " + path + ": declares page sizes 4K|64K but hw format "
                         "'arm-64-lpae-s1-4k' has leaves of 4K|2M|1G only");
}

TEST_F(Loader, UnknownHwFormat) {
  const std::string path = plugin_path("bad_plugin_format.so");
  EXPECT_THAT(error(path), StartsWith("plugin " + path + ": unknown hw format 'arm-65-lpae'; "
                                      "valid formats: arm-64-lpae-s1-4k, "));
}

TEST_F(Loader, CreateFailure) {
  const std::string path = plugin_path("example_plugin.so");
  EXPECT_EQ(error(path, "frobnicate"), "plugin " + path + ": create() failed with -22 (EINVAL)");
  memory.fail_nth_allocation(1);
  EXPECT_EQ(error(path), "plugin " + path + ": create() failed with -12 (ENOMEM)");
  EXPECT_TRUE(memory.live_allocations().empty());
}

TEST_F(Loader, HostMisuseBecomesFindings) {
  const std::string path = plugin_path("bad_plugin_host_misuse.so");
  auto driver = load_plugin(path, env);
  uint64_t mapped = 0;
  EXPECT_EQ(driver->map_pages(0, 0, 0x1000, 1, 3, &mapped), -EINVAL);
  const std::vector<std::string> w = env.host_errors.take();
  ASSERT_EQ(w.size(), 4u);
  const std::string who = "plugin:" + path + ": ";
  // The text after the callback's name is hw::TableMemory's.
  EXPECT_THAT(w[0], StartsWith(who + "free_table: "));
  EXPECT_THAT(w[0], HasSubstr("already freed"));
  EXPECT_THAT(w[1], StartsWith(who + "alloc_table: "));
  EXPECT_THAT(w[1], HasSubstr("0xbb8"));
  EXPECT_THAT(w[2], StartsWith(who + "read64: "));
  EXPECT_THAT(w[2], HasSubstr("0x80000004"));
  EXPECT_EQ(w[3], who + "tlb_add_page(iova=0x0, granule=0x1000) with a gather that is not the "
                        "one unmap_pages received");
  // A WARN is the driver's own report, kept apart: it begins with the plugin's FILE:LINE.
  const std::vector<std::string> warns = env.warnings.take();
  ASSERT_EQ(warns.size(), 1u);
  EXPECT_THAT(warns[0], MatchesRegex(R"([^ ]*bad_plugin\.c:[0-9]+: WARN_ON\(\*mapped == 0\))"));
  driver.reset();
  EXPECT_TRUE(memory.live_allocations().empty());
}

// A host exception cannot unwind through the plugin's C frames: it is parked and rethrown.
TEST_F(Loader, HostExceptionsReachTheCaller) {
  struct ThrowingFlush : NoFlush {
    void tlb_add_page(impl::IotlbGather&, uint64_t, uint64_t) override {
      throw std::runtime_error("invalidation queue full");
    }
  } throwing;
  DriverEnv throwing_env{memory, throwing};
  auto driver = load_plugin(plugin_path("example_plugin.so"), throwing_env);
  uint64_t mapped = 0;
  ASSERT_EQ(driver->map_pages(0, 0, 0x1000, 2, 3, &mapped), 0);
  impl::IotlbGather gather;
  EXPECT_THROW(
      {
        try {
          driver->unmap_pages(0, 0x1000, 2, &gather);
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "invalidation queue full");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(driver->iova_to_phys(0x1000), 0u) << "the unmap itself completed";
}

}  // namespace
}  // namespace iommu::conform
