// Exit codes under a sanitizer. ASan and UBSan exit with 1 by default when they report an error,
// which is the CLI's "violation found": a crash of iommucheck itself (or of an in-process
// plugin) would read as a finding. They exit with kExitSanitizer instead (docs/CLI.md); the
// environment (ASAN_OPTIONS, UBSAN_OPTIONS) still overrides these defaults.
#include "cli/command.h"

static_assert(iommu::cli::kExitSanitizer == 3, "keep the option strings below in step");

extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "exitcode=3";
}

extern "C" __attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return "exitcode=3";
}
