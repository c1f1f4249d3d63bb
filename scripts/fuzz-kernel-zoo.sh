#!/usr/bin/env bash
# Time for fuzz_diff to find each kernel mutant (docs/FUZZING.md, "Fuzzing kernel code"): for
# every mutant of the kernel bug zoo (`iommucheck mutants --driver-source linux`), its copy of
# the tree is written (--write-tree), fuzz_diff --kernel=COPY --control=TREE runs from the seed
# corpus for at most CAP seconds, and the time to the first finding that the unmutated TREE does
# not give on the same ops is reported. (No baseline there: a baseline entry names a signature,
# which a mutant may share; no-eexist's is finding 8's.) The first row is the unmutated tree
# with the baseline: what a campaign finds there beyond the baseline.
#   scripts/fuzz-kernel-zoo.sh TREE VERSION [CAP_SECONDS] [RUNS] [MUTANT...]
# VERSION (6.12 or 7.2) picks conform/linux/baselines/VERSION.baseline. RUNS campaigns per
# mutant, with -seed=1..RUNS. PRESET=fuzz (default, ASan+UBSan) or fuzz-nosan. One markdown row
# CLI=PATH uses that iommucheck for --write-tree; DRIVER=linux:VARIANT fuzzes that variant alone
# (no-map-wmb needs a coherent walk: DRIVER=linux:arm-64-lpae-s1-4k-coherent). One markdown row
# per mutant: name, one time per run ("not found in CAP s" when none), the check of the first
# finding, inputs run. Prints "zoo: mutants=N found=F (in every run: E) unmutated=clean|FOUND".
set -uo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/fuzz-kernel-zoo.sh TREE VERSION [CAP_SECONDS] [RUNS] [MUTANT...]"
tree="${1:?${usage}}"
version="${2:?${usage}}"
cap="${3:-60}"
runs="${4:-1}"
shift $(($# < 4 ? $# : 4))
preset="${PRESET:-fuzz}"
baseline="conform/linux/baselines/${version}.baseline"
[[ -d "${tree}" ]] || { echo "${tree}: not a directory" >&2; exit 2; }
[[ -f "${baseline}" ]] || { echo "no baseline ${baseline} (VERSION: 6.12 or 7.2)" >&2; exit 2; }
tree="$(cd "${tree}" && pwd)"

build="build/${preset}"
cmake --preset "${preset}" >/dev/null || exit 2
# CLI=PATH: an iommucheck built elsewhere (any preset) writes the mutated trees; FUZZ_DIFF=PATH:
# a fuzz_diff built elsewhere (a copy, so that a rebuild cannot replace it under a campaign).
cli="${CLI:-${build}/cli/iommucheck}"
fuzz="${FUZZ_DIFF:-${build}/fuzz/fuzz_diff}"
targets=()
[[ -n "${CLI:-}" ]] || targets+=(iommucheck)
[[ -n "${FUZZ_DIFF:-}" ]] || targets+=(fuzz_diff)
if [[ ${#targets[@]} -gt 0 ]]; then
  cmake --build "${build}" --target "${targets[@]}" -j "$(nproc)" >/dev/null || exit 2
fi

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  read -r -a names <<<"$("${cli}" mutants --driver-source linux --kernel "${tree}" --only '?' 2>&1 |
    sed -n 's/.*valid names: //p')"
fi
[[ ${#names[@]} -gt 0 ]] || { echo "cannot list the kernel mutants with ${cli}" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/iommucheck-fuzz-zoo-XXXXXX")"
trap 'rm -rf "${work}"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# One campaign on tree $1 with seed $2 (and --control=$3 unless empty): prints "SECONDS CHECK
# INPUTS" or "- - INPUTS".
campaign() {
  local dir="$1" seed="$2" control="$3" run="${work}/run"
  rm -rf "${run}" && mkdir -p "${run}/corpus"
  local start end
  start=$(date +%s.%N)
  local known=(--baseline="${baseline}")
  [[ -z "${control}" ]] || known=(--control="${control}")
  "${fuzz}" --kernel="${dir}" ${DRIVER:+"--driver=${DRIVER}"} "${known[@]}" -seed="${seed}" \
    -max_total_time="${cap}" -timeout=10 -rss_limit_mb=2048 -dict=fuzz/fuzz_diff.dict \
    -artifact_prefix="${run}/" "${run}/corpus" fuzz/corpus/fuzz_diff >"${run}/log" 2>&1
  end=$(date +%s.%N)
  local inputs
  inputs=$(grep -oE '^#[0-9]+' "${run}/log" | tail -1 | tr -d '#')
  local artifacts
  artifacts=$(find "${run}" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' \
    -o -maxdepth 1 -name 'oom-*' -o -maxdepth 1 -name 'leak-*')
  if [[ -n "${artifacts}" ]]; then
    local check
    check=$(sed -n 's/^VIOLATION: op [0-9]* `[^`]*`: \([a-z-]*\):.*/\1/p' "${run}/log" | head -1)
    [[ -n "${check}" ]] || check=$(grep -oE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer): [A-Za-z-]+' \
      "${run}/log" | head -1 | sed 's/ERROR: //')
    [[ -n "${check}" ]] || check=$(grep -oE 'runtime error: [a-z ]+' "${run}/log" | head -1)
    [[ -n "${check}" ]] || check=crash
    echo "$(awk -v a="${start}" -v b="${end}" 'BEGIN { printf "%.2f", b - a }') ${check// /_} ${inputs:-0}"
  else
    echo "- - ${inputs:-0}"
  fi
}

# Builds (and caches) a tree's plugins, so that a campaign's time is fuzzing.
prebuild() {
  : >"${work}/empty"
  "${fuzz}" --kernel="$1" ${DRIVER:+"--driver=${DRIVER}"} ${2:+"--control=$2"} -runs=0 "${work}/empty" >"${work}/prebuild.log" 2>&1 || {
    tail -20 "${work}/prebuild.log"
    return 1
  }
}

row() {  # name dir control
  local name="$1" dir="$2" control="$3" times="" checks="" inputs="" found=0
  prebuild "${dir}" "${control}" || { echo "| ${name} | build failed | | |"; return 2; }
  for seed in $(seq 1 "${runs}"); do
    read -r secs check n <<<"$(campaign "${dir}" "${seed}" "${control}")"
    if [[ "${secs}" == "-" ]]; then
      times+="${times:+, }not found in ${cap} s"
    else
      times+="${times:+, }$(printf '%.1f s' "${secs}")"
      found=$((found + 1))
      [[ "${checks}" == *"${check}"* ]] || checks+="${checks:+, }${check}"
    fi
    inputs+="${inputs:+, }${n}"
  done
  echo "| ${name} | ${times} | ${checks:--} | ${inputs} |"
  [[ ${found} -eq ${runs} ]] && return 0
  [[ ${found} -gt 0 ]] && return 1
  return 3
}

echo "fuzz_diff on ${tree} (${version}), ${preset} preset, cap ${cap} s, ${runs} run(s) each, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mutant | time to the first finding | check | inputs run |"
echo "|---|---|---|---|"
unmutated=clean
row "(unmutated, baseline only)" "${tree}" ""
[[ $? -eq 3 ]] || unmutated=FOUND
total=0 every=0 some=0
for name in "${names[@]}"; do
  dir="${work}/tree-${name}"
  if ! "${cli}" mutants --driver-source linux --kernel "${tree}" --only "${name}" \
    --write-tree "${dir}" >/dev/null 2>&1; then
    echo "| ${name} | n/a (not written for ${version}) | | |"
    continue
  fi
  total=$((total + 1))
  row "${name}" "${dir}" "${tree}"
  case $? in
    0) every=$((every + 1)); some=$((some + 1)) ;;
    1) some=$((some + 1)) ;;
  esac
  rm -rf "${dir}"
done
echo
echo "zoo: mutants=${total} found=${some} (in every run: ${every}) unmutated=${unmutated}"
