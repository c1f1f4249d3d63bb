#!/usr/bin/env bash
# A fuzz campaign for one target: libFuzzer with -fork=JOBS on a working corpus under
# findings/fuzz/TARGET/, progress on stderr, every crash, leak, hang or OOM kept there.
#   scripts/fuzz.sh TARGET [SECONDS] [JOBS]     e.g. scripts/fuzz.sh fuzz_diff 3600 2
# TARGET: fuzz_trace, fuzz_decode, fuzz_diff or fuzz_dma. SECONDS default 600, JOBS default the core
# count. PRESET=fuzz-nosan drops the sanitizers (several times the executions per second);
# IOMMUCHECK_MUTANT=NAME switches a seeded impl bug on in fuzz_diff.
# fuzz_diff on Linux's code: KERNEL=DIR (the tree of the linux: drivers; its files are compiled
# with libFuzzer's coverage), DRIVER=linux:FORMAT to fuzz one format only, BASELINE=FILE so that
# the tree's known findings (conform/linux/baselines/) are not crashes. The campaign then lives
# in findings/fuzz/fuzz_diff-linux/.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [JOBS]}"
seconds="${2:-600}"
jobs="${3:-$(nproc)}"
preset="${PRESET:-fuzz}"
case "${target}" in
  fuzz_trace | fuzz_decode | fuzz_diff | fuzz_dma) ;;
  *) echo "unknown target ${target} (fuzz_trace, fuzz_decode, fuzz_diff, fuzz_dma)" >&2; exit 2 ;;
esac
case "${preset}" in
  fuzz | fuzz-nosan) ;;
  *) echo "PRESET=${preset}: use fuzz (ASan+UBSan) or fuzz-nosan" >&2; exit 2 ;;
esac

build="build/${preset}"
cmake --preset "${preset}" >/dev/null
cmake --build "${build}" --target "${target}" decode_input iommucheck -j "$(nproc)"

kernel="${KERNEL:-}"
extra=()
if [[ -n "${kernel}" || -n "${DRIVER:-}" || -n "${BASELINE:-}" ]]; then
  if [[ "${target}" != fuzz_diff ]]; then
    echo "KERNEL, DRIVER and BASELINE are for fuzz_diff" >&2
    exit 2
  fi
  if [[ -n "${kernel}" && ! -d "${kernel}" ]]; then
    echo "KERNEL=${kernel}: not a directory" >&2
    exit 2
  fi
  [[ -z "${kernel}" ]] || kernel="$(cd "${kernel}" && pwd)"
  extra=(${kernel:+"--kernel=${kernel}"} ${DRIVER:+"--driver=${DRIVER}"}
         ${BASELINE:+"--baseline=$(realpath "${BASELINE}")"})
fi
out="findings/fuzz/${target}${kernel:+-linux}"
mkdir -p "${out}/corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# -ignore_crashes keeps the campaign going after a finding; each one lands in ${out}/.
# Beside libFuzzer's lines, one every FUZZ_PROGRESS_SECONDS (default 60) with the time left and
# the findings so far (scripts/fuzz-progress.sh).
scripts/fuzz-progress.sh "${out}" "${seconds}" "${FUZZ_PROGRESS_SECONDS:-60}" &
watcher=$!
trap 'kill "${watcher}" 2>/dev/null' EXIT
set +e
"${build}/fuzz/${target}" -fork="${jobs}" -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 ${extra[@]+"${extra[@]}"} -max_total_time="${seconds}" -timeout=10 \
  -rss_limit_mb=2048 \
  -dict="fuzz/${target}.dict" -artifact_prefix="${out}/" -print_final_stats=1 \
  "${out}/corpus" "fuzz/corpus/${target}"
status=$?
set -e
kill "${watcher}" 2>/dev/null

shopt -s nullglob
findings=("${out}"/crash-* "${out}"/leak-* "${out}"/timeout-* "${out}"/oom-*)
echo "campaign: target=${target}${kernel:+ kernel=${kernel}} seconds=${seconds} jobs=${jobs}" \
  "findings=${#findings[@]}" \
  "corpus=$(ls "${out}/corpus" | wc -l) libfuzzer_exit=${status}"
for f in "${findings[@]}"; do
  echo "finding: ${f}"
  echo "  reproduce: ${IOMMUCHECK_MUTANT:+IOMMUCHECK_MUTANT=${IOMMUCHECK_MUTANT} }${build}/fuzz/${target}" \
    "${extra[@]+"${extra[@]}"} ${f}"
  case "${target}" in
    fuzz_trace) echo "  it is a trace already: ${build}/cli/iommucheck replay ${f}" ;;
    fuzz_decode) echo "  as a decode command: ${build}/fuzz/decode_input explain ${f} ${f}.img" ;;
    fuzz_diff)
      echo "  as a trace: ${build}/cli/iommucheck fuzz-trace ${kernel:+--kernel ${kernel} }${DRIVER:+--driver ${DRIVER} }${f} > ${f}.trace &&" \
        "${build}/cli/iommucheck replay ${kernel:+--kernel ${kernel} }${f}.trace" \
        "${IOMMUCHECK_MUTANT:+(replay runs impl without the mutant)}" ;;
  esac
done
[[ ${#findings[@]} -eq 0 ]]
