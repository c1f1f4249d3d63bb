#!/usr/bin/env bash
# expect_summary.sh CODE REGEX CMD...: as expect.sh, and the last line CMD prints on stdout must
# be its `summary:` line (the contract of `iommucheck check`, docs/CLI.md).
set -u
. "$(dirname "$0")/checks.sh"
want_code=$1 pattern=$2
shift 2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$@" 2>"$err")
code=$?
all="$out"$'\n'"$(cat "$err")"
expect_code "$code" "$want_code" "$all"
expect_match "$pattern" "$all"
summary='^summary: driver=[^ ]+ ops=[0-9]+ violations=[0-9]+ seconds=[0-9.]+ ops_per_s=[0-9]+$'
expect_summary_last "$summary" "$out" "$all"
