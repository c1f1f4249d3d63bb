#!/usr/bin/env bash
# install_test.sh STEP BUILD PREFIX [ARG]: iommucheck as a user gets it (README.md "Install"),
# one STEP per ctest test:
#   install  cmake --install BUILD --prefix PREFIX, into an emptied PREFIX (the others need it)
#   files    every file a user needs is in its place
#   help     the installed command runs
#   man      the man page renders, names every command and every option of each
#   plugin   the example plugin, built with pkg-config alone, loads into the installed command
#   moved    the command looks for the shim under its own prefix, wherever that was moved to,
#            never in the source tree
#   linux    ARG: a Linux tree; the installed command builds linux: drivers from its own shim
#   deb      ARG: a scratch directory; CPack's Debian package holds the same, with its Depends
set -euo pipefail
step=$1 build=$2 prefix=$3 arg=${4:-}
bin=${prefix}/bin/iommucheck

fail() {
  printf 'install_test %s: %s\n' "${step}" "$*" >&2
  exit 1
}

# expect CODE REGEX CMD...: CMD exits with CODE and its output matches REGEX.
expect() {
  local want=$1 pattern=$2 out code=0
  shift 2
  out=$("$@" 2>&1) || code=$?
  [ "${code}" -eq "${want}" ] || fail "\`$*\` exited ${code}, expected ${want}:"$'\n'"${out}"
  grep -Eq -- "${pattern}" <<<"${out}" || fail "\`$*\` does not print /${pattern}/:"$'\n'"${out}"
}

# The commands the installed iommucheck has, from its --help.
commands() {
  "${bin}" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'
}

case "${step}" in
install)
  rm -rf "${prefix}"
  "${CMAKE:-cmake}" --install "${build}" --prefix "${prefix}" >/dev/null
  ;;
files)
  for f in bin/iommucheck include/iommucheck/iommucheck_driver.h share/pkgconfig/iommucheck.pc \
    share/man/man1/iommucheck.1 share/iommucheck/iommucheck_driver.h \
    share/iommucheck/linux/glue.c share/iommucheck/linux/include/linux/iommu.h \
    share/iommucheck/linux/baselines/6.12.baseline share/doc/iommucheck/README.md \
    share/doc/iommucheck/docs/PLUGINS.md share/doc/iommucheck/examples/plugin/example_plugin.c; do
    [ -f "${prefix}/${f}" ] || fail "${prefix}/${f} was not installed"
  done
  [ -x "${bin}" ] || fail "${bin} is not executable"
  ;;
help)
  expect 0 "^Usage: .*iommucheck \[OPTIONS\] SUBCOMMAND" "${bin}" --help
  expect 0 "^summary: driver=impl:arm-v7s ops=500 violations=0" "${bin}" check \
    --driver impl:arm-v7s --ops 500 --out "${prefix}/../findings"
  ;;
man)
  page=${prefix}/share/man/man1/iommucheck.1
  warnings=$(groff -man -Tutf8 -ww -z "${page}" 2>&1)
  [ -z "${warnings}" ] || fail "groff warns about ${page}:"$'\n'"${warnings}"
  # Wide enough that no option is hyphenated across lines.
  text=$(MANWIDTH=1000 man -l "${page}" 2>&1) || fail "man -l ${page} failed:"$'\n'"${text}"
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS "EXIT STATUS" ENVIRONMENT FILES; do
    grep -q "^${section}$" <<<"${text}" || fail "the man page has no ${section} section"
  done
  for c in $(commands); do
    # The command's sub-section: from its usage line to the next heading.
    sub=$(awk -v c="${c}" '/^ +iommucheck [a-z-]+ \[OPTIONS\]/ { on = $2 == c; next }
                          /^[A-Z]/ { on = 0 } on' <<<"${text}")
    [ -n "${sub}" ] || fail "the man page has no sub-section for ${c}"
    for o in $("${bin}" "${c}" --help | grep -Eo '^  --[a-z0-9-]+'); do
      grep -Eq -- "^ +${o}( |$)" <<<"${sub}" || fail "${c}'s option ${o} is not in its sub-section"
    done
  done
  ;;
plugin)
  # pkg-config alone: its search path is the prefix's, nothing of the source tree.
  export PKG_CONFIG_LIBDIR=${prefix}/share/pkgconfig PKG_CONFIG_PATH=
  version=$("${bin}" --version)
  [ "iommucheck $(pkg-config --modversion iommucheck)" = "${version}" ] ||
    fail "pkg-config --modversion iommucheck is not ${version}"
  abi=$(sed -n 's/^#define IOMMUCHECK_DRIVER_ABI_VERSION \([0-9]*\)u$/\1/p' \
    "${prefix}/include/iommucheck/iommucheck_driver.h")
  [ "$(pkg-config --variable=abi_version iommucheck)" = "${abi}" ] ||
    fail "pkg-config's abi_version is not the header's ${abi}"
  src=${prefix}/share/doc/iommucheck/examples/plugin/example_plugin.c
  out=${prefix}/../plugin
  rm -rf "${out}" && mkdir -p "${out}"
  cd "${out}"
  # shellcheck disable=SC2046
  cc -std=c11 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
    $(pkg-config --cflags iommucheck) -o example.so "${src}"
  # shellcheck disable=SC2046
  cc -std=c11 -shared -fPIC -fvisibility=hidden -DEXAMPLE_SEEDED_BUG \
    $(pkg-config --cflags iommucheck) -o seeded_bug.so "${src}"
  expect 0 "^summary: driver=plugin:.*/example.so ops=1000 violations=0" \
    "${bin}" check --driver plugin:./example.so --ops 1000 --out findings
  expect 1 "^VIOLATION: op [0-9]+ .*did not tlb_add_page" \
    "${bin}" check --driver plugin:./seeded_bug.so --ops 20000 --out findings
  ;;
moved)
  # A copy of the prefix without the shim, and a tree with the files a build starts from.
  moved=${prefix}/../moved tree=${prefix}/../tree
  rm -rf "${moved}" "${tree}"
  cp -al "${prefix}" "${moved}"
  rm -r "${moved}/share/iommucheck/linux"
  mkdir -p "${tree}/drivers/iommu" "${tree}/include/linux"
  touch "${tree}"/drivers/iommu/io-pgtable{,-arm,-arm-v7s,-dart}.c \
    "${tree}/include/linux/io-pgtable.h"
  unset IOMMUCHECK_LINUX_SHIM_DIR
  expect 2 "the shim sources are not at $(realpath "${moved}")/share/iommucheck/linux" \
    "${moved}/bin/iommucheck" drivers --kernel "${tree}"
  ;;
linux)
  # The shim the installed command compiles is its own copy under the prefix.
  unset IOMMUCHECK_LINUX_SHIM_DIR
  expect 0 "^summary: driver=linux:arm-64-lpae-s1-4k ops=1000 violations=0" \
    "${bin}" check --kernel "${arg}" --driver linux:arm-64-lpae-s1-4k --ops 1000 \
    --baseline "${prefix}/share/iommucheck/linux/baselines/6.12.baseline" \
    --out "${prefix}/../findings"
  ;;
deb)
  rm -rf "${arg}" && mkdir -p "${arg}"
  "${CPACK:-cpack}" --config "${build}/CPackConfig.cmake" -B "${arg}" >"${arg}/cpack.log" 2>&1 ||
    fail "cpack failed:"$'\n'"$(cat "${arg}/cpack.log")"
  debs=("${arg}"/iommucheck_*.deb)
  [ -f "${debs[0]}" ] || fail "cpack wrote no iommucheck_*.deb:"$'\n'"$(cat "${arg}/cpack.log")"
  info=$(dpkg-deb -I "${debs[0]}")
  version=$("${bin}" --version)
  for field in "Package: iommucheck" "Version: ${version#iommucheck }$" "Maintainer: .+<.+@.+>" \
    "Depends: .*libz3-" "Depends: .*libfmt" "Depends: .*libstdc\+\+" "Recommends: gcc" \
    "Description: conformance and verification kit"; do
    grep -Eq "^ ${field}" <<<"${info}" || fail "dpkg-deb -I has no /${field}/:"$'\n'"${info}"
  done
  contents=$(dpkg-deb -c "${debs[0]}")
  for f in usr/bin/iommucheck usr/include/iommucheck/iommucheck_driver.h \
    usr/share/pkgconfig/iommucheck.pc usr/share/man/man1/iommucheck.1 \
    usr/share/iommucheck/linux/glue.c usr/share/iommucheck/iommucheck_driver.h; do
    grep -Eq " \./${f}$" <<<"${contents}" || fail "the package has no /${f}:"$'\n'"${contents}"
  done
  dpkg-deb -x "${debs[0]}" "${arg}/root"
  pc=${arg}/root/usr/share/pkgconfig/iommucheck.pc
  grep -q '^prefix=/usr$' "${pc}" ||
    fail "the package's iommucheck.pc is not for /usr:"$'\n'"$(cat "${pc}")"
  # The packaged (stripped) command runs.
  [ "$("${arg}/root/usr/bin/iommucheck" --version)" = "${version}" ] ||
    fail "the packaged iommucheck does not say ${version}"
  ;;
*)
  fail "unknown step"
  ;;
esac
