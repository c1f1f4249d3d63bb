#!/usr/bin/env bash
# interrupt.sh SIGNAL DELAY CODE REGEX CMD...: starts CMD, sends it SIGNAL after DELAY seconds,
# and passes iff it then exits with CODE, its output matches REGEX and its last stdout line is
# the summary.
set -u
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
if [ "$code" -ne "$want_code" ]; then
  printf 'exit %s, expected %s; output:\n%s\n' "$code" "$want_code" "$all"
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$all"; then
  printf 'output does not match /%s/:\n%s\n' "$pattern" "$all"
  exit 1
fi
if ! tail -n 1 "$out" | grep -Eq '^summary: '; then
  printf 'the last stdout line is not the summary:\n%s\n' "$all"
  exit 1
fi
