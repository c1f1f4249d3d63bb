#!/usr/bin/env bash
# expect.sh CODE REGEX CMD...: runs CMD, passes iff it exits with CODE and its combined output
# matches the extended regular expression REGEX.
set -u
. "$(dirname "$0")/checks.sh"
want_code=$1 pattern=$2
shift 2
out=$("$@" 2>&1)
code=$?
expect_code "$code" "$want_code" "$out"
expect_match "$pattern" "$out"
