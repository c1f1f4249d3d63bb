// `iommucheck decode`: print what a raw memory image of page tables maps (see hw/dump.h).
#include <fmt/core.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "hw/dump.h"
#include "hw/format.h"

namespace iommu::cli {
namespace {

struct DecodeOptions {
  std::string format;
  std::vector<std::string> roots;
  std::string image;
  std::string base = "0";
  unsigned ias = 0;
  unsigned oas = 0;
};

uint64_t parse_paddr(const std::string& text, std::string_view option) {
  size_t used = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(text, &used, 0);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError(fmt::format("{} '{}' is not an address (write e.g. 0x80000000)", option, text));
  return value;
}

hw::Format decode_format(const DecodeOptions& o) {
  try {
    return hw::make_format({.name = o.format, .ias = o.ias, .oas = o.oas});
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

int run_decode(const DecodeOptions& o) {
  hw::Format fmt = decode_format(o);
  std::vector<uint64_t> roots;
  for (const auto& r : o.roots) roots.push_back(parse_paddr(r, "--root"));
  uint64_t base = parse_paddr(o.base, "--base");
  std::vector<uint8_t> image;
  try {
    image = hw::read_image_file(o.image);
  } catch (const hw::ImageError& e) {
    throw UsageError(e.what());
  }
  hw::TableDump dump;
  try {
    dump = hw::dump_image(fmt, image, base, roots);
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
  cmd->add_option("--root", opts->roots,
                  "physical address of the top-level table (apple-dart: repeat once per TTBR)")
      ->required();
  cmd->add_option("--image", opts->image, "raw memory image file")->required();
  cmd->add_option("--base", opts->base, "physical address of the image's first byte (default 0)");
  cmd->add_option("--ias", opts->ias, "input address size in bits (default: the format's usual)");
  cmd->add_option("--oas", opts->oas, "output address size in bits (default: the format's usual)");
  cmd->callback([&action, opts] { action = [opts] { return run_decode(*opts); }; });
}

}  // namespace iommu::cli
