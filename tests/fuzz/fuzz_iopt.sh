#!/usr/bin/env bash
# fuzz_iopt.sh FUZZ_IOPT CLI MUTANT RUNS WORK
#   fuzz_iopt with the storage's seeded bug MUTANT (IOMMUCHECK_MUTANT) finds a violation within
#   RUNS inputs from the seed corpus (-seed=1), and the trace it prints replays with `iommucheck
#   replay` (the mutant is the trace's `mutant` directive) to the same VIOLATION line.
# Prints one result line; exits 0 when that holds, 1 when not.
set -u
bin=$1 cli=$2 mutant=$3 runs=$4 work=$5
corpus="$(cd "$(dirname "$0")/../.." && pwd)/fuzz/corpus/fuzz_iopt"
rm -rf "${work}" && mkdir -p "${work}/corpus"
start=$(date +%s%N)
IOMMUCHECK_MUTANT="${mutant}" "${bin}" -seed=1 -runs="${runs}" -timeout=10 \
  -artifact_prefix="${work}/" "${work}/corpus" "${corpus}" >"${work}/log" 2>&1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
found=$(sed -n 's/^VIOLATION: //p' "${work}/log" | head -1)
if [[ -z "${found}" ]]; then
  tail -20 "${work}/log"
  echo "not found: ${mutant} survived ${runs} inputs"
  exit 1
fi
sed -n '/^--- trace/,/^--- end of trace/p' "${work}/log" | sed '1d;$d' >"${work}/finding.trace"
replayed=$("${cli}" replay "${work}/finding.trace" | sed -n 's/^VIOLATION: //p')
if [[ "${replayed}" != "${found}" ]]; then
  cat "${work}/finding.trace"
  echo "fuzz_iopt: ${found}"
  echo "replay:    ${replayed}"
  echo "replayed: a different violation"
  exit 1
fi
echo "found: ${mutant} in ${ms} ms (${found%%:*}); replayed: same violation"
