#!/usr/bin/env bash
# fuzz-progress.sh DIR SECONDS [INTERVAL]: while a campaign of SECONDS keeps its findings in DIR
# (and its corpus in DIR/corpus), one line on stderr every INTERVAL seconds (default 60):
#   fuzz DIR: 120s of 600s, 480s left, findings=1 corpus=734
# libFuzzer's own lines give executions, coverage and exec/s, but neither the time left nor
# what was kept so far; scripts/fuzz.sh runs this beside it and stops it at the end. It also
# stops by itself when the process that started it is gone.
set -uo pipefail
dir="${1:?usage: fuzz-progress.sh DIR SECONDS [INTERVAL]}"
seconds="${2:?usage: fuzz-progress.sh DIR SECONDS [INTERVAL]}"
interval="${3:-60}"
shopt -s nullglob
parent=$PPID
start=$(date +%s)
while sleep "${interval}" && kill -0 "${parent}" 2>/dev/null; do
  elapsed=$(($(date +%s) - start))
  left=$((seconds > elapsed ? seconds - elapsed : 0))
  findings=("${dir}"/crash-* "${dir}"/leak-* "${dir}"/timeout-* "${dir}"/oom-*)
  corpus=("${dir}"/corpus/*)
  echo "fuzz ${dir}: ${elapsed}s of ${seconds}s, ${left}s left, findings=${#findings[@]}" \
    "corpus=${#corpus[@]}" >&2
done
