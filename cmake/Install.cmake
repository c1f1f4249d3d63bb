# `cmake --install` and the Debian package (CPack): the command, its man page, the plugin header
# with a pkg-config file, and what the command reads at run time (docs in README.md "Install").
# Every path is relative to the prefix, which may be chosen at install time (--prefix).
install(TARGETS iommucheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The one header plugin authors include; pkg-config's Cflags point into its directory, so
# `#include "iommucheck_driver.h"` reads as in examples/plugin/.
install(FILES conform/iommucheck_driver.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/iommucheck)

# The linux: drivers compile the shim at run time (conform/linux_build.cc finds it relative to
# the installed command); its sources include the plugin header from their parent directory.
install(DIRECTORY conform/linux/ DESTINATION ${IOMMUCHECK_INSTALL_DATADIR}/linux)
install(FILES conform/iommucheck_driver.h DESTINATION ${IOMMUCHECK_INSTALL_DATADIR})

install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(FILES examples/plugin/example_plugin.c DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/plugin)

# The man page, from the built command's help (cmake/man-page.sh, Debian's help2man). Fuzz
# builds leave it out by default: they are not installed, and OSS-Fuzz's images lack help2man.
if(IOMMUCHECK_FUZZ)
  set(_man_default OFF)
else()
  set(_man_default ON)
endif()
option(IOMMUCHECK_MAN_PAGE "Generate and install the man page iommucheck.1 (needs help2man)"
       ${_man_default})
if(IOMMUCHECK_MAN_PAGE)
  find_program(HELP2MAN help2man)
  if(NOT HELP2MAN)
    message(FATAL_ERROR "help2man not found (the man page is generated with it): ${_hint}, "
                        "or configure with -DIOMMUCHECK_MAN_PAGE=OFF")
  endif()
  set(_man ${CMAKE_BINARY_DIR}/iommucheck.1)
  add_custom_command(OUTPUT ${_man}
    COMMAND ${PROJECT_SOURCE_DIR}/cmake/man-page.sh $<TARGET_FILE:iommucheck> ${HELP2MAN}
            ${PROJECT_SOURCE_DIR}/cmake/iommucheck.h2m ${_man}
    DEPENDS iommucheck ${PROJECT_SOURCE_DIR}/cmake/man-page.sh
            ${PROJECT_SOURCE_DIR}/cmake/iommucheck.h2m
    COMMENT "Generating iommucheck.1 from the command's help")
  add_custom_target(iommucheck_man ALL DEPENDS ${_man})
  install(FILES ${_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# iommucheck.pc names the prefix given at install time, so it is written then, straight into
# the destination: two installs at once (a test's, CPack's) share no file in the build tree.
block()
  file(STRINGS conform/iommucheck_driver.h abi REGEX "^#define IOMMUCHECK_DRIVER_ABI_VERSION ")
  string(REGEX REPLACE ".* ([0-9]+)u$" "\\1" abi_version "${abi}")
  set(prefix "@prefix@")  # kept for the install-time pass
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  configure_file(cmake/iommucheck.pc.in ${CMAKE_BINARY_DIR}/iommucheck.pc.in @ONLY)
endblock()
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(pc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/pkgconfig\")
  message(STATUS \"Installing: \${pc}/iommucheck.pc\")
  configure_file(\"${CMAKE_BINARY_DIR}/iommucheck.pc.in\" \"\${pc}/iommucheck.pc\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${pc}/iommucheck.pc\")")

# The Debian package: `cpack --config build/<preset>/CPackConfig.cmake` writes
# iommucheck_VERSION_ARCH.deb. Its library dependencies come from dpkg-shlibdeps; the linux:
# drivers need a C compiler at run time, --coverage needs gcovr, plugin builds pkg-config.
set(IOMMUCHECK_MAINTAINER "iommucheck developers <dev@iommucheck.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iommucheck)
set(CPACK_PACKAGE_VENDOR iommucheck)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "conformance and verification kit for IOMMU page-table code")
# The extended description, after the summary; CPack indents each line as Debian's format wants.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"iommucheck checks an IOMMU page-table driver (a Linux io-pgtable format, an
out-of-tree or hypervisor driver built as a plugin) against an executable
reference model of the Linux IOMMU API and a model of the IOMMU hardware:
randomized differential campaigns with minimized findings, replayable traces,
a bug zoo of seeded kernel bugs, and Z3 proofs of the core's arithmetic.
This package holds the command, its man page, and the C header and pkg-config
file for building plugins.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${IOMMUCHECK_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gcc")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gcovr, pkg-config")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
