# Sourced by expect.sh, expect_summary.sh and interrupt.sh: the checks on a command that ran.
# Each prints what was expected and the whole output, and exits 1, when its check fails.

# expect_code CODE WANT OUTPUT
expect_code() {
  if [ "$1" -ne "$2" ]; then
    printf 'exit %s, expected %s; output:\n%s\n' "$1" "$2" "$3"
    exit 1
  fi
}

# expect_match REGEX OUTPUT: OUTPUT matches the extended regular expression REGEX.
expect_match() {
  if ! grep -Eq -- "$1" <<<"$2"; then
    printf 'output does not match /%s/:\n%s\n' "$1" "$2"
    exit 1
  fi
}

# expect_summary_last REGEX STDOUT OUTPUT: the last line of STDOUT is a summary matching REGEX.
expect_summary_last() {
  if ! tail -n 1 <<<"$2" | grep -Eq -- "$1"; then
    printf 'the last stdout line is not the summary:\n%s\n' "$3"
    exit 1
  fi
}
