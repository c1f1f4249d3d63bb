// `iommucheck decode`: print what a raw memory image of page tables maps (see hw/dump.h).
#include <fmt/core.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/validate.h"
#include "hw/dump.h"
#include "hw/format.h"

namespace iommu::cli {
namespace {

struct DecodeOptions {
  std::string format;
  std::vector<uint64_t> roots;
  std::string image;
  uint64_t base = 0;
  unsigned ias = 0;
  unsigned oas = 0;
};

hw::Format decode_format(const DecodeOptions& o) {
  try {
    return hw::make_format({.name = o.format, .ias = o.ias, .oas = o.oas});
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

int run_decode(const DecodeOptions& o) {
  hw::Format fmt = decode_format(o);
  std::optional<hw::ImageFile> image;
  try {
    image.emplace(o.image);
  } catch (const hw::ImageError& e) {
    throw UsageError(e.what());
  }
  hw::TableDump dump;
  try {
    dump = hw::dump_image(fmt, image->bytes(), o.base, o.roots);
  } catch (const hw::ImageError& e) {
    throw UsageError(fmt::format("image {}: {}", o.image, e.what()));
  }
  for (const auto& m : dump.mappings) fmt::print("{}\n", hw::format_mapping(m));
  for (const auto& m : dump.malformed) fmt::print("{}\n", hw::format_malformed(m));
  return kExitOk;
}

}  // namespace

void add_decode_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "decode", "Print every mapping and malformed descriptor in a raw memory image of tables");
  auto opts = std::make_shared<DecodeOptions>();
  cmd->add_option("--format", opts->format, "descriptor format, e.g. arm-64-lpae-s1-4k")
      ->required();
  cmd->add_option_function<std::vector<std::string>>(
         "--root",
         [opts](const std::vector<std::string>& roots) {
           for (const std::string& r : roots) opts->roots.push_back(parse_address("--root", r));
         },
         "physical address of the top-level table (apple-dart: repeat once per TTBR)")
      ->required()
      ->type_name("PADDR");
  cmd->add_option("--image", opts->image, "raw memory image file")->required();
  add_address_option(cmd, "--base", [opts](uint64_t v) { opts->base = v; },
                     "physical address of the image's first byte (default 0)");
  add_count_option(cmd, "--ias", 1, 64,
                   [opts](uint64_t v) { opts->ias = static_cast<unsigned>(v); },
                   "input address size in bits (default: the format's usual)");
  add_count_option(cmd, "--oas", 1, 64,
                   [opts](uint64_t v) { opts->oas = static_cast<unsigned>(v); },
                   "output address size in bits (default: the format's usual)");
  cmd->callback([&action, opts] { action = [opts] { return run_decode(*opts); }; });
}

}  // namespace iommu::cli
