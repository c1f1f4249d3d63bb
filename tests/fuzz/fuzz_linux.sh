#!/usr/bin/env bash
# fuzz_diff on a Linux tree's linux: drivers (docs/FUZZING.md, "Fuzzing kernel code").
#   fuzz_linux.sh guided FUZZ_DIFF TREE BASELINE WORK
#     the seed corpus reaches at least 100 more edges (libFuzzer's cov:) with the kernel files
#     instrumented than without (--kernel-coverage=0; it reaches over 500 kernel edges): the
#     kernel's edges steer the campaign. (A margin, not "more": runs differ by a few edges.)
#   fuzz_linux.sh clean FUZZ_DIFF TREE BASELINE RUNS WORK
#     RUNS inputs from the seed corpus (-seed=1) on the tree's own code: no crash, hang or
#     sanitizer report. Its findings are its own (--control=TREE): a campaign on an unmutated
#     tree also meets consequences of the baseline's findings under other signatures
#     (docs/FUZZING.md).
#   fuzz_linux.sh found FUZZ_DIFF CLI TREE BASELINE MUTANT RUNS WORK
#     the same campaign on the tree with kernel mutant MUTANT (`iommucheck mutants --write-tree`,
#     --control=TREE) finds a violation; `iommucheck fuzz-trace` + `replay` reproduce the same
#     one on the mutated tree, and the unmutated TREE does not give it on the same trace.
# Prints one result line; exits 0 when the expectation holds, 1 when not.
set -u
corpus="$(cd "$(dirname "$0")/../.." && pwd)/fuzz/corpus/fuzz_diff"
mode=$1
shift

fuzz() {  # FUZZ_DIFF WORK ARGS...: a campaign from the seed corpus into WORK, log WORK/log
  local bin=$1 work=$2
  shift 2
  rm -rf "${work}" && mkdir -p "${work}/corpus"
  "${bin}" "$@" -seed=1 -dict="${corpus}/../../fuzz_diff.dict" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="${work}/" \
    "${work}/corpus" "${corpus}" >"${work}/log" 2>&1
}

inited_cov() { sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$1" | head -1; }

case "${mode}" in
  guided)
    bin=$1 tree=$2 baseline=$3 work=$4
    for run in plain cov; do
      coverage=$([[ ${run} == plain ]] && echo 0 || echo 1)
      fuzz "${bin}" "${work}/${run}" --kernel="${tree}" --baseline="${baseline}" \
        --kernel-coverage="${coverage}" -runs=0 || { tail -30 "${work}/${run}/log"; exit 1; }
    done
    plain=$(inited_cov "${work}/plain/log") cov=$(inited_cov "${work}/cov/log")
    echo "seed corpus coverage: ${plain:-?} edges without the kernel's, ${cov:-?} with them"
    [[ -n "${plain}" && -n "${cov}" && ${cov} -ge $((plain + 100)) ]] &&
      echo "guided: kernel edges count"
    [[ -n "${plain}" && -n "${cov}" && ${cov} -ge $((plain + 100)) ]]
    ;;
  clean)
    bin=$1 tree=$2 baseline=$3 runs=$4 work=$5
    if fuzz "${bin}" "${work}" --kernel="${tree}" --control="${tree}" --baseline="${baseline}" \
      -runs="${runs}"; then
      echo "clean: $(grep -oE '^Done [0-9]+ runs' "${work}/log")"
    else
      tail -30 "${work}/log"
      exit 1
    fi
    ;;
  found)
    bin=$1 cli=$2 tree=$3 baseline=$4 mutant=$5 runs=$6 work=$7
    rm -rf "${work}.tree"
    "${cli}" mutants --driver-source linux --kernel "${tree}" --only "${mutant}" \
      --write-tree "${work}.tree" || exit 1
    if fuzz "${bin}" "${work}" --kernel="${work}.tree" --control="${tree}" \
      --baseline="${baseline}" -runs="${runs}"; then
      echo "not found: mutant ${mutant} survived ${runs} runs"
      exit 1
    fi
    found=$(grep -m1 '^VIOLATION: ' "${work}/log")
    crash=$(ls "${work}"/crash-* 2>/dev/null | head -1)
    [[ -n "${found}" && -n "${crash}" ]] || { tail -30 "${work}/log"; exit 1; }
    echo "fuzz_diff: ${found}"
    "${cli}" fuzz-trace --kernel "${work}.tree" "${crash}" >"${work}/finding.trace" || exit 1
    "${cli}" replay --kernel "${work}.tree" "${work}/finding.trace" >"${work}/replay.log" 2>&1
    code=$?
    replayed=$(grep -m1 '^VIOLATION: ' "${work}/replay.log")
    echo "replay (exit ${code}): ${replayed}"
    "${cli}" replay --kernel "${tree}" "${work}/finding.trace" >"${work}/unmutated.log" 2>&1
    unmutated=$(grep -m1 '^VIOLATION: ' "${work}/unmutated.log")
    echo "replay on the unmutated tree: ${unmutated:-no violation}"
    [[ ${code} -eq 1 && "${replayed}" == "${found}" && "${unmutated}" != "${found}" ]] &&
      echo "replayed: same finding, not the unmutated tree's"
    [[ ${code} -eq 1 && "${replayed}" == "${found}" && "${unmutated}" != "${found}" ]]
    ;;
  *)
    echo "fuzz_linux.sh: unknown mode ${mode}" >&2
    exit 2
    ;;
esac
