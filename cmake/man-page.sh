#!/usr/bin/env bash
# man-page.sh IOMMUCHECK HELP2MAN INCLUDE OUT: writes the man page OUT from the built command's
# help with Debian's help2man. help2man reads one --help text, so this one is assembled from the
# command's and every subcommand's: a COMMANDS section listing them, then each with its options
# under its usage line (a help2man sub-section: a line ending in ':', then indented lines).
# INCLUDE holds the hand-written sections (description, environment, files).
set -euo pipefail
bin=$1 help2man=$2 include=$3 out=$4
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

fail() {
  echo "man-page.sh: $*" >&2
  exit 1
}
# CLI11 prints the path it was run as; the page names the command.
help() {
  "${bin}" "$@" --help | sed "s|${bin}|iommucheck|g" || fail "\`${bin}${*:+ $*} --help\` failed"
}

main=$(help)
commands=$(awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' <<<"${main}")
[ -n "${commands}" ] || fail "${bin} --help lists no commands"
# The footer: from the 'Exit codes:' line to the end (every command's help repeats it).
footer=$(sed -n '/^Exit codes:/,$p' <<<"${main}")
[ -n "${footer}" ] || fail "${bin} --help has no 'Exit codes:' line"

{
  sed '/^Exit codes:/,$d' <<<"${main}" | sed 's/^Subcommands:$/*Commands*/'
  for c in ${commands}; do
    sub=$(help "${c}")
    awk '
      NR == 1 { what = $0; next }
      /^Exit codes:/ { footer = 1 }
      footer { next }
      /^Usage: / { sub(/^Usage: /, ""); print $0 ":"; print "  " what; print ""; next }
      /^(Options|Positionals):$/ || /^  -h,--help / { next }
      { print }' <<<"${sub}"
  done
  printf '*Exit status*\n%s\n' "${footer}"
} >"${work}/help"

# help2man runs its argument with --help and --version.
cat >"${work}/iommucheck" <<EOF
#!/bin/sh
[ "\$1" = --version ] && exec "${bin}" --version
cat "${work}/help"
EOF
chmod +x "${work}/iommucheck"
"${help2man}" --no-info --include="${include}" \
  --name="conformance and verification kit for IOMMU page-table code" \
  --output="${work}/iommucheck.1" "${work}/iommucheck"
# A sub-section's heading is the usage line without help2man's trailing colon.
sed 's/^\.SS "\(.*\):"$/.SS "\1"/' "${work}/iommucheck.1" >"${out}"
