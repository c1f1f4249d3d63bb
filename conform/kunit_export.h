// A finding as a KUnit test for the kernel (`iommucheck export --kunit`, docs/LINUX.md "A
// finding as a KUnit test"): a linux: trace becomes one C file that replays its ops through
// the tree's io_pgtable_ops with recording flush ops and asserts what the reference says.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "conform/trace.h"

namespace iommu::conform {

// A trace the export cannot turn into a KUnit test: not a linux: driver, a variant or an op it
// cannot replay through io_pgtable_ops. The message says what is unsupported and why.
struct KunitExportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The C source of a KUnit suite `iommucheck_NAME` (NAME: `name` with every character other
// than a letter or digit written `_`) with one case that replays `trace`; `source` names the
// trace in the file's comment. Throws KunitExportError.
std::string export_kunit(const Trace& trace, std::string_view name, std::string_view source);

}  // namespace iommu::conform
