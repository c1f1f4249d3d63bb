// The `config` directive: the fields of ref::describe(DomainConfig), parsed back. Internal to
// conform/.
#pragma once

#include <span>
#include <string_view>

#include "ref/config.h"

namespace iommu::conform {

// Parses the words after `config`; throws text::LineError naming the field at fault, or the
// ref::validate problem of a configuration the model cannot hold a driver to.
ref::DomainConfig parse_config(std::span<const std::string_view> words);

}  // namespace iommu::conform
