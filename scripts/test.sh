#!/usr/bin/env bash
# Builds and runs the whole test suite: the optimized build, then ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
for preset in default asan; do
  echo "== preset ${preset}"
  cmake --preset "${preset}"
  cmake --build --preset "${preset}"
  ctest --preset "${preset}" -j "$(nproc)"
done
