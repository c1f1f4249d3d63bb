#!/usr/bin/env bash
# CI regression check for the libFuzzer targets: builds the `fuzz` preset (clang-14, ASan +
# UBSan), then for each target replays its seed corpus and fuzzes for a bounded time.
# Fails on any crash, sanitizer report, leak or hang.
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
targets=(fuzz_trace fuzz_decode fuzz_diff fuzz_iopt fuzz_virtio fuzz_dma)

cmake --preset fuzz >/dev/null
cmake --build build/fuzz --target "${targets[@]}" -j "$(nproc)"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for target in "${targets[@]}"; do
  bin="build/fuzz/fuzz/${target}"
  corpus="fuzz/corpus/${target}"
  echo "== ${target}: replaying ${corpus}"
  "${bin}" -runs=0 -timeout=10 "${corpus}" 2>"${work}/${target}.replay.log" || {
    tail -40 "${work}/${target}.replay.log"
    echo "FAIL: ${target} crashed on its seed corpus"
    exit 1
  }
  echo "== ${target}: fuzzing for ${seconds}s"
  # New inputs go to a scratch copy; the repository's corpus stays as committed.
  mkdir -p "${work}/${target}"
  "${bin}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 \
    -dict="fuzz/${target}.dict" -artifact_prefix="${work}/" -print_final_stats=1 \
    "${work}/${target}" "${corpus}" 2>"${work}/${target}.log" || {
    tail -60 "${work}/${target}.log"
    echo "FAIL: ${target} found a crash; reproduce with: ${bin} ARTIFACT"
    ls "${work}"/crash-* "${work}"/leak-* "${work}"/timeout-* "${work}"/oom-* 2>/dev/null || true
    mkdir -p findings/fuzz/"${target}"
    cp "${work}"/crash-* "${work}"/leak-* "${work}"/timeout-* "${work}"/oom-* \
      findings/fuzz/"${target}"/ 2>/dev/null || true
    exit 1
  }
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "${work}/${target}.log"
done
echo "fuzz smoke: ${#targets[@]} passed, 0 failed"
