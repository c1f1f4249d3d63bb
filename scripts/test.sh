#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does: the optimized build, then ASan+UBSan; the
# concurrent map/unmap tests under ThreadSanitizer; each libFuzzer target replaying its corpus
# and fuzzing for a short bounded time under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
for preset in default asan; do
  echo "== preset ${preset}"
  cmake --preset "${preset}"
  cmake --build --preset "${preset}"
  ctest --preset "${preset}" -j "$(nproc)"
done

echo "== preset tsan: concurrent map/unmap on disjoint ranges"
cmake --preset tsan
cmake --build --preset tsan --target impl_pgtable_concurrent_test
ctest --preset tsan -R '^ImplConcurrent\.' --no-tests=error

echo "== fuzz smoke (preset fuzz)"
./scripts/fuzz-smoke.sh 20
