#!/usr/bin/env bash
# interrupt.sh SIGNAL DELAY CODE REGEX CMD...: starts CMD, sends it SIGNAL after DELAY seconds,
# and passes iff it then exits with CODE, its output matches REGEX and its last stdout line is
# the summary.
set -u
. "$(dirname "$0")/checks.sh"
sig=$1 delay=$2 want_code=$3 pattern=$4
shift 4
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$@" >"$out" 2>"$err" &
pid=$!
sleep "$delay"
kill -s "$sig" "$pid"
wait "$pid"
code=$?
all="$(cat "$out" "$err")"
expect_code "$code" "$want_code" "$all"
expect_match "$pattern" "$all"
expect_summary_last '^summary: ' "$(cat "$out")" "$all"
