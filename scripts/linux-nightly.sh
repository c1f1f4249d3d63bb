#!/usr/bin/env bash
# The long linux: campaigns CI has no time for (docs/LINUX.md, "Tests"): every variant each tree
# provides (`iommucheck drivers --kernel TREE`, the unavailable ones left out), a contract
# campaign of OPS ops and a hostile one of SECONDS, each judged against the tree's baseline.
#   scripts/linux-nightly.sh IOMMUCHECK TREE VERSION [OPS] [SECONDS]
# VERSION (6.12 or 7.2) picks conform/linux/baselines/VERSION.baseline; OPS defaults to
# 200000, SECONDS to 60. One line per campaign: `VARIANT contract|hostile: SUMMARY`. Findings go
# to findings/nightly/VERSION/VARIANT/. Exit 0 when no campaign found anything the baseline does
# not know, 1 otherwise, 2 on usage errors.
set -uo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/linux-nightly.sh IOMMUCHECK TREE VERSION [OPS] [SECONDS]"
cli="${1:?${usage}}"
tree="${2:?${usage}}"
version="${3:?${usage}}"
ops="${4:-200000}"
seconds="${5:-60}"
baseline="conform/linux/baselines/${version}.baseline"
[[ -x "${cli}" ]] || { echo "${cli}: not an executable" >&2; exit 2; }
[[ -d "${tree}" ]] || { echo "${tree}: not a directory" >&2; exit 2; }
[[ -f "${baseline}" ]] || { echo "no baseline ${baseline} (VERSION: 6.12 or 7.2)" >&2; exit 2; }

variants=$("${cli}" drivers --kernel "${tree}" | awk -F'\t' '
  $1 ~ /^linux:/ && $2 !~ /^unavailable: / { print $1 }')
[[ -n "${variants}" ]] || { echo "${tree}: no linux: variant to run" >&2; exit 2; }

status=0
for driver in ${variants}; do
  out="findings/nightly/${version}/${driver#linux:}"
  for caller in contract hostile; do
    budget=(--ops "${ops}")
    [[ "${caller}" == hostile ]] && budget=(--time "${seconds}")
    summary=$("${cli}" check --kernel "${tree}" --driver "${driver}" --caller "${caller}" \
      "${budget[@]}" --baseline "${baseline}" --out "${out}" 2>/dev/null | tail -1)
    rc=$?
    echo "${driver} ${caller}: ${summary:-no summary (exit ${rc})}"
    [[ "${summary}" == summary:*" violations=0 "* ]] || status=1
  done
done
exit "${status}"
