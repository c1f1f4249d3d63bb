# One sanitizer list applies to every target, so a sanitizer build checks the whole tool.
if(IOMMUCHECK_SANITIZE)
  add_compile_options(-fsanitize=${IOMMUCHECK_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${IOMMUCHECK_SANITIZE})
endif()
if(IOMMUCHECK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "IOMMUCHECK_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link
                      -fsanitize-coverage-allowlist=${CMAKE_SOURCE_DIR}/fuzz/coverage.allowlist)
  # Programs other than the fuzz targets (the CLI, tests) link a runtime for the coverage
  # callbacks too, so that the whole tree builds in a fuzz preset.
  add_link_options(-fsanitize=fuzzer-no-link)
endif()
