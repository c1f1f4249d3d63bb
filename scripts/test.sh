#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does: the optimized build (gcc), then the `fuzz`
# build (clang-14, ASan+UBSan and libFuzzer's instrumentation), whose tests run sanitized and
# whose libFuzzer targets then replay their corpora and fuzz for a short bounded time; the
# concurrent map/unmap tests under ThreadSanitizer. One sanitizer build serves both, which
# keeps CI within its time. The linux: drivers are checked against two kernel trees from
# Debian's archive: 6.12, and sid's newest when the archive answers.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase's wall time, printed at the end, failed or not: CI shows a run's last lines.
timings=()
phase_start=${SECONDS}
paths=$(mktemp -d)
lap() {
  timings+=("$1 $((SECONDS - phase_start))s")
  phase_start=${SECONDS}
}
finish() {
  rm -rf "${paths}"
  echo "test: ${SECONDS}s in all: ${timings[*]} (then $((SECONDS - phase_start))s in the last phase)"
}
trap finish EXIT

./scripts/install-deps.sh
lap deps

echo "== Linux trees (scripts/fetch-kernel.sh)"
# Both at once: each is a download and one single-threaded pass over its tarball.
./scripts/fetch-kernel.sh 6.12 >"${paths}/6.12" &
fetch_612=$!
./scripts/fetch-kernel.sh sid >"${paths}/sid" &
fetch_sid=$!
status_612=0 sid_status=0
wait "${fetch_612}" || status_612=$?
wait "${fetch_sid}" || sid_status=$?
[ "${status_612}" -eq 0 ] || exit "${status_612}"
if [ "${sid_status}" -eq 3 ]; then
  echo "test: Debian sid is unreachable: the linux: tests use Linux 6.12 alone"
elif [ "${sid_status}" -ne 0 ]; then
  exit "${sid_status}"
fi
lap kernels
kernels=(-DIOMMUCHECK_KERNEL_6_12="$(cat "${paths}/6.12")"
  -DIOMMUCHECK_KERNEL_SID="$(cat "${paths}/sid")")

for preset in default fuzz; do
  echo "== preset ${preset}"
  cmake --preset "${preset}" "${kernels[@]}"
  cmake --build --preset "${preset}"
  lap "${preset}-build"
  ctest --preset "${preset}" -j "$(nproc)"
  lap "${preset}-ctest"
done

echo "== preset tsan: concurrent map/unmap on disjoint ranges, and a concurrent checker episode"
cmake --preset tsan
cmake --build --preset tsan --target impl_pgtable_concurrent_test conform_concurrent_tsan_test
ctest --preset tsan -R '^(ImplConcurrent|ConcurrentTsan)\.' --no-tests=error
lap tsan

echo "== fuzz smoke (preset fuzz, built above)"
./scripts/fuzz-smoke.sh 5
lap fuzz-smoke
