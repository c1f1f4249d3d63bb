// Precompiled into the CLI's targets: CLI11 is header-only, and parsing it in every command's
// file cost more than compiling the command itself.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>
