#!/usr/bin/env bash
# The contract of scripts/fetch-kernel.sh without the network: usage errors, the reduction of
# a linux-source package to the needed files (a small fake package), reuse of a fetched tree,
# and the distinct exit code when the archive is unreachable. The real fetch runs in
# scripts/test.sh.
set -u
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect NAME CODE REGEX CMD...: CMD exits with CODE and its combined output matches REGEX.
expect() {
  local name=$1 want=$2 pattern=$3 out code
  shift 3
  out=$("$@" 2>&1)
  code=$?
  if [ "$code" -ne "$want" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    printf 'FAIL %s: exit %s (want %s), output (want /%s/):\n%s\n' \
      "$name" "$code" "$want" "$pattern" "$out"
    failures=$((failures + 1))
  fi
}

# A linux-source package as Debian builds it: usr/src/linux-source-X.tar.xz holding the tree.
make_fake_deb() {
  local root=$work/pkg src=$work/src/linux-source-9.9
  mkdir -p "$src"/drivers/iommu/amd "$src"/include/linux "$src"/drivers/gpu "$root"/DEBIAN \
    "$root"/usr/src
  echo 'VERSION = 9' >"$src"/Makefile
  for f in io-pgtable-arm.c io-pgtable-arm.h iommu-pages.h; do echo "/* $f */" >"$src/drivers/iommu/$f"; done
  echo 'config X' >"$src"/drivers/iommu/Kconfig
  echo '/* amd */' >"$src"/drivers/iommu/amd/io_pgtable.c
  echo '/* gpu */' >"$src"/drivers/gpu/gpu.c
  echo '/* io-pgtable.h */' >"$src"/include/linux/io-pgtable.h
  echo '/* iommu.h */' >"$src"/include/linux/iommu.h
  tar -C "$work/src" -cJf "$root/usr/src/linux-source-9.9.tar.xz" linux-source-9.9
  printf 'Package: linux-source-9.9\nVersion: 9.9.1-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: fake\n' \
    >"$root"/DEBIAN/control
  dpkg-deb -Zgzip --build "$root" "$work/fake.deb" >/dev/null
}

# No network for anything below: a mirror on a closed local port.
export IOMMUCHECK_DEBIAN_MIRROR=http://127.0.0.1:9/debian
export IOMMUCHECK_DEBIAN_SECURITY_MIRROR=http://127.0.0.1:9/debian-security
unset IOMMUCHECK_CACHE
cache=$work/cache

expect help 0 '^usage: scripts/fetch-kernel.sh .*VERSION' "$script" --help
expect no_version 2 'VERSION is required: 6.12 or sid' "$script" --cache "$cache"
expect bad_version 2 "unknown VERSION '5.10': 6.12 or sid" "$script" --cache "$cache" 5.10
expect two_versions 2 "one VERSION only, got '6.12' and 'sid'" "$script" --cache "$cache" 6.12 sid
expect bad_option 2 "unknown option '--frob'" "$script" --frob 6.12
expect cache_no_arg 2 '--cache needs a directory' "$script" 6.12 --cache
expect deb_missing 2 '--deb /nonexistent.deb: no such file' "$script" --deb /nonexistent.deb 6.12

make_fake_deb
expect extract 0 "^$cache/6.12\$" "$script" --cache "$cache" --deb "$work/fake.deb" 6.12
got=$(cd "$cache/6.12" 2>/dev/null && find . -type f | sort | tr '\n' ' ')
want='./.iommucheck-fetched ./Makefile ./drivers/iommu/io-pgtable-arm.c ./drivers/iommu/io-pgtable-arm.h ./drivers/iommu/iommu-pages.h ./include/linux/io-pgtable.h '
if [ "$got" != "$want" ]; then
  printf 'FAIL reduced_tree: files\n  %s\nwant\n  %s\n' "$got" "$want"
  failures=$((failures + 1))
fi
expect stamp 0 '^linux-source-9.9 9.9.1-1$' cat "$cache/6.12/.iommucheck-fetched"
# A fetched tree is reused without the (here unreachable) archive.
expect reuse 0 "reusing linux-source-9.9 9.9.1-1 in $cache/6.12" "$script" --cache "$cache" 6.12
expect reuse_env 0 "^$cache/6.12\$" env IOMMUCHECK_CACHE="$cache" "$script" 6.12
mkdir -p "$work/other/DEBIAN" "$work/other/usr/share/other"
echo x >"$work/other/usr/share/other/x"
sed 's/linux-source-9.9/other/' "$work/pkg/DEBIAN/control" >"$work/other/DEBIAN/control"
dpkg-deb -Zgzip --build "$work/other" "$work/other.deb" >/dev/null
expect not_source 1 'other.deb: not a linux-source package' \
  "$script" --cache "$work/cache2" --deb "$work/other.deb" 6.12
expect unreachable 3 'the Debian archive for sid is unreachable' "$script" --cache "$cache" sid
expect refresh_unreachable 3 'the Debian archive for 6.12 is unreachable' "$script" --cache "$cache" --refresh 6.12
# A failed refresh keeps the tree it had.
expect refresh_keeps 0 'reusing linux-source-9.9' "$script" --cache "$cache" 6.12
# Nothing outside the cache directory was written: apt's state is private.
expect private_state 0 'sources.list' ls "$cache/apt/sid/etc"

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all fetch-kernel checks pass"
