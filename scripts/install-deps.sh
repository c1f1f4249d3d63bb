#!/usr/bin/env bash
# Installs every build and test dependency from Debian's archive. Idempotent: packages that
# are already present are left alone, and apt-get update runs only when something is missing.
set -euo pipefail

packages=(
  cmake g++ make ninja-build
  clang-14 libclang-rt-14-dev llvm-14
  libgtest-dev libgmock-dev librapidcheck-dev
  libz3-dev libfmt-dev libcli11-dev libbenchmark-dev nlohmann-json3-dev
  gcovr zip unzip
  help2man pkg-config groff-base man-db dpkg-dev file  # install: man page, plugins, .deb
  libjs-chart.js chromium  # --report's plots, and the browser its test renders them in
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
