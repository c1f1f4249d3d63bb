#!/usr/bin/env bash
# expect_summary.sh CODE REGEX CMD...: as expect.sh, and the last line CMD prints on stdout must
# be its `summary:` line (the contract of `iommucheck check`, docs/CLI.md).
set -u
want_code=$1 pattern=$2
shift 2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$@" 2>"$err")
code=$?
all="$out"$'\n'"$(cat "$err")"
if [ "$code" -ne "$want_code" ]; then
  printf 'exit %s, expected %s; output:\n%s\n' "$code" "$want_code" "$all"
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$all"; then
  printf 'output does not match /%s/:\n%s\n' "$pattern" "$all"
  exit 1
fi
if ! tail -n 1 <<<"$out" | grep -Eq '^summary: driver=[^ ]+ ops=[0-9]+ violations=[0-9]+ seconds=[0-9.]+ ops_per_s=[0-9]+$'; then
  printf 'the last stdout line is not the summary:\n%s\n' "$out"
  exit 1
fi
