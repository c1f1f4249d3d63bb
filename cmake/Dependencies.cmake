# Every dependency is a Debian package installed by scripts/install-deps.sh.
set(_hint "run scripts/install-deps.sh")

option(IOMMUCHECK_FMT_HEADER_ONLY "fmt compiled into each program, not the shared library" OFF)
if(IOMMUCHECK_FMT_HEADER_ONLY)
  # For OSS-Fuzz (scripts/oss-fuzz-build.sh), whose runners do not have the system's libfmt.
  find_path(FMT_INCLUDE_DIR fmt/format.h REQUIRED)
  add_library(fmt::fmt INTERFACE IMPORTED)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${FMT_INCLUDE_DIR}"
                                            INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
else()
  find_package(fmt REQUIRED)
endif()
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)  # the CLI's --json (cli/results.cc)
# The test frameworks for a build with tests (an OSS-Fuzz build has none).
if(NOT DEFINED BUILD_TESTING OR BUILD_TESTING)
  find_package(GTest REQUIRED)
  find_package(rapidcheck REQUIRED)
endif()
find_package(benchmark REQUIRED)
find_package(Threads REQUIRED)

# Debian's libz3-dev ships no CMake package: find the C++ API by hand.
find_path(Z3_INCLUDE_DIR z3++.h)
find_library(Z3_LIBRARY z3)
if(NOT Z3_INCLUDE_DIR OR NOT Z3_LIBRARY)
  message(FATAL_ERROR "Z3 C++ API (z3++.h, libz3) not found: ${_hint}")
endif()
add_library(z3::z3 UNKNOWN IMPORTED)
set_target_properties(z3::z3 PROPERTIES IMPORTED_LOCATION "${Z3_LIBRARY}"
                      INTERFACE_INCLUDE_DIRECTORIES "${Z3_INCLUDE_DIR}")
