#!/usr/bin/env bash
# Fetches a Linux source tree from Debian's archive, reduced to the files the linux: drivers
# compile (docs/LINUX.md), and prints where the tree is. Nothing on the system changes: apt
# runs with a private configuration whose sources list, lists, cache and dpkg status all live
# under the cache directory.
set -euo pipefail

readonly EXIT_USAGE=2
readonly EXIT_UNREACHABLE=3
readonly STAMP=.iommucheck-fetched

usage() {
  cat <<'EOF'
usage: scripts/fetch-kernel.sh [--cache DIR] [--deb FILE] [--refresh] VERSION

VERSION is one of:
  6.12  Debian 12's linux-source-6.12 (bookworm-security)
  sid   the newest linux-source-* package of Debian unstable

Extracts drivers/iommu/*.[ch] (top level), include/linux/io-pgtable.h and the top-level
Makefile into DIR/VERSION and prints that path on stdout. A tree fetched before is reused
without touching the network.

  --cache DIR  cache directory (default: $IOMMUCHECK_CACHE, else build/kernels)
  --deb FILE   extract this linux-source .deb instead of downloading one
  --refresh    fetch again even if the tree is cached (sid: picks up a newer package)
  -h, --help   this text

Environment: IOMMUCHECK_DEBIAN_MIRROR (default http://deb.debian.org/debian),
IOMMUCHECK_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).

Exit codes: 0 the tree is ready; 1 the archive answered but the fetch failed; 2 usage;
3 the Debian archive is unreachable (callers fall back to the kernels they have).
EOF
}

die() {
  local code=$1
  shift
  echo "fetch-kernel: $*" >&2
  exit "$code"
}

log() { echo "fetch-kernel: $*" >&2; }

# The private apt configuration: every directory apt reads or writes is under $1.
write_apt_config() {
  local dir=$1 sources=$2
  mkdir -p "$dir"/etc/sources.list.d "$dir"/etc/preferences.d "$dir"/state/lists/partial \
    "$dir"/cache/archives/partial
  printf '%s\n' "$sources" >"$dir/etc/sources.list"
  : >"$dir/state/status"
  cat >"$dir/apt.conf" <<EOF
Dir::Etc::SourceList "$dir/etc/sources.list";
Dir::Etc::SourceParts "$dir/etc/sources.list.d";
Dir::Etc::Preferences "$dir/etc/preferences";
Dir::Etc::PreferencesParts "$dir/etc/preferences.d";
Dir::State "$dir/state";
Dir::State::Lists "$dir/state/lists";
Dir::State::status "$dir/state/status";
Dir::Cache "$dir/cache";
Dir::Cache::archives "$dir/cache/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::Retries "2";
EOF
  # Root's apt drops to the _apt user for downloads, which cannot write a private directory.
  if [ "$(id -u)" -eq 0 ]; then echo 'APT::Sandbox::User "root";' >>"$dir/apt.conf"; fi
}

apt_private() {
  local dir=$1 tool=$2
  shift 2
  "$tool" -c "$dir/apt.conf" -q "$@"
}

# Resolves the package for VERSION in the private apt state: prints its name.
resolve_package() {
  local dir=$1 version=$2
  case "$version" in
    6.12) echo linux-source-6.12 ;;
    sid)
      apt_private "$dir" apt-cache pkgnames linux-source- |
        { grep -E '^linux-source-[0-9]+\.[0-9]+$' || true; } | sort -V | tail -n 1
      ;;
  esac
}

# Downloads the package's .deb into $3 with the private configuration; prints the file.
download_deb() {
  local version=$1 cache=$2 downloads=$3
  local apt_dir="$cache/apt/$version" sources log_file
  case "$version" in
    6.12) sources="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${IOMMUCHECK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main" ;;
    sid) sources="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${IOMMUCHECK_DEBIAN_MIRROR:-http://deb.debian.org/debian} sid main" ;;
  esac
  write_apt_config "$apt_dir" "$sources"
  log "updating the package lists of ${sources#*] }"
  log_file="$apt_dir/update.log"
  if ! apt_private "$apt_dir" apt-get update >"$log_file" 2>&1 ||
    grep -q '^[WE]: Failed to fetch' "$log_file"; then
    sed 's/^/  /' "$log_file" >&2
    die $EXIT_UNREACHABLE "the Debian archive for $version is unreachable (${sources#*] })"
  fi
  local package
  package=$(resolve_package "$apt_dir" "$version")
  [ -n "$package" ] || die 1 "no linux-source package for $version in ${sources#*] }"
  log "downloading $package"
  mkdir -p "$downloads"
  rm -f "$downloads"/*.deb
  if ! (cd "$downloads" && apt_private "$apt_dir" apt-get download "$package") >"$log_file" 2>&1; then
    sed 's/^/  /' "$log_file" >&2
    die $EXIT_UNREACHABLE "cannot download $package for $version"
  fi
  ls "$downloads"/*.deb
}

# One pass over the package: the .deb's data, the tarball inside it, only the needed members.
extract_deb() {
  local deb=$1 dest=$2
  local inner prefix
  inner=$(dpkg-deb --fsys-tarfile "$deb" | tar -t --wildcards './usr/src/linux-source-*.tar.*') ||
    die 1 "$deb: not a linux-source package (no usr/src/linux-source-*.tar.*)"
  inner=$(echo "$inner" | head -n 1)
  prefix=$(basename "$inner")
  prefix=${prefix%.tar.*}
  mkdir -p "$dest"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "$inner" | xz -dc |
    tar -x -C "$dest" --strip-components=1 --wildcards --no-wildcards-match-slash \
      "$prefix/Makefile" "$prefix/drivers/iommu/*.[ch]" "$prefix/include/linux/io-pgtable.h" ||
    die 1 "$deb: extracting $inner failed"
  [ -f "$dest/drivers/iommu/io-pgtable-arm.c" ] ||
    die 1 "$deb: $inner has no drivers/iommu/io-pgtable-arm.c"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >"$dest/$STAMP"
}

main() {
  local cache=${IOMMUCHECK_CACHE:-} deb="" refresh=0 version=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --cache) [ $# -ge 2 ] || die $EXIT_USAGE "--cache needs a directory"; cache=$2; shift ;;
      --deb) [ $# -ge 2 ] || die $EXIT_USAGE "--deb needs a file"; deb=$2; shift ;;
      --refresh) refresh=1 ;;
      -*) die $EXIT_USAGE "unknown option '$1' (see --help)" ;;
      *) [ -z "$version" ] || die $EXIT_USAGE "one VERSION only, got '$version' and '$1'"
         version=$1 ;;
    esac
    shift
  done
  [ -n "$version" ] || die $EXIT_USAGE "VERSION is required: 6.12 or sid (see --help)"
  case "$version" in
    6.12 | sid) ;;
    *) die $EXIT_USAGE "unknown VERSION '$version': 6.12 or sid" ;;
  esac
  [ -z "$deb" ] || [ -f "$deb" ] || die $EXIT_USAGE "--deb $deb: no such file"
  [ -n "$cache" ] || cache="$(cd "$(dirname "$0")/.." && pwd)/build/kernels"
  mkdir -p "$cache" || die $EXIT_USAGE "--cache $cache: cannot create it"
  cache=$(cd "$cache" && pwd)

  local tree="$cache/$version"
  if [ $refresh -eq 0 ] && [ -z "$deb" ] && [ -f "$tree/$STAMP" ]; then
    log "reusing $(cat "$tree/$STAMP") in $tree"
    echo "$tree"
    return
  fi
  if [ -z "$deb" ]; then
    deb=$(download_deb "$version" "$cache" "$cache/downloads/$version")
  fi
  # Extract beside the tree and rename, so an interrupted run never leaves a half tree behind.
  local staging="$tree.partial"
  rm -rf "$staging"
  log "extracting $(basename "$deb")"
  extract_deb "$deb" "$staging"
  rm -rf "$tree"
  mv "$staging" "$tree"
  rm -rf "$cache/downloads/$version"
  log "$(cat "$tree/$STAMP") is in $tree"
  echo "$tree"
}

main "$@"
