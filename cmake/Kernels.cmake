# Linux trees for the linux: drivers and their tests, as scripts/fetch-kernel.sh extracts them.
# Empty means: the tree in the fetch cache if there is one, else the tests that need it skip.
set(IOMMUCHECK_KERNEL_6_12 "" CACHE PATH "Linux 6.12 tree (scripts/fetch-kernel.sh 6.12)")
set(IOMMUCHECK_KERNEL_SID "" CACHE PATH "Debian sid's Linux tree (scripts/fetch-kernel.sh sid)")

if(DEFINED ENV{IOMMUCHECK_CACHE})
  set(_kernel_cache "$ENV{IOMMUCHECK_CACHE}")
else()
  set(_kernel_cache "${PROJECT_SOURCE_DIR}/build/kernels")
endif()

foreach(_kernel 6.12 sid)
  string(REPLACE "." "_" _var "IOMMUCHECK_KERNEL_${_kernel}")
  string(TOUPPER "${_var}" _var)
  if(${_var} AND NOT EXISTS "${${_var}}/drivers/iommu/io-pgtable-arm.c")
    message(FATAL_ERROR "${_var}=${${_var}}: no drivers/iommu/io-pgtable-arm.c there "
                        "(fetch it with scripts/fetch-kernel.sh ${_kernel})")
  endif()
  # Not stored in the cache, so a tree fetched or removed later is seen at the next configure.
  if(NOT ${_var} AND EXISTS "${_kernel_cache}/${_kernel}/.iommucheck-fetched")
    set(${_var} "${_kernel_cache}/${_kernel}")
  endif()
  if(${_var})
    message(STATUS "Linux ${_kernel} tree: ${${_var}}")
  else()
    message(STATUS "Linux ${_kernel} tree: none (scripts/fetch-kernel.sh ${_kernel}); its tests skip")
  endif()
endforeach()
