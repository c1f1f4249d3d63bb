#!/usr/bin/env bash
# coverage_test.sh CLI TREE WORK report|blocks: `--coverage DIR` on linux: drivers (docs/LINUX.md
# "Coverage").
#   report: a small campaign writes DIR/index.html naming io-pgtable-arm.c, and its summary line
#           counts covered lines.
#   blocks: the counts are the kernel's own: replaying 4K maps leaves the line that writes a
#           block descriptor unrun, replaying a 2M map runs it (without instrumentation, or with
#           the counters never flushed, the second fails).
set -u
. "$(dirname "$0")/../cli/checks.sh"
cli=$1 tree=$2 work=$3 mode=$4
traces=$(dirname "$0")/traces
rm -rf "$work"

# count_of JSON TEXT: the execution count of the io-pgtable-arm.c line holding TEXT.
count_of() {
  python3 - "$1" "$2" "$tree/drivers/iommu/io-pgtable-arm.c" <<'PY'
import json, sys
report, text, source = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [n for n, l in enumerate(open(source), 1) if text in l]
assert len(lines) == 1, f"{text!r} is on lines {lines} of {source}, not on one"
for f in json.load(open(report))["files"]:
    if f["file"].endswith("drivers/iommu/io-pgtable-arm.c"):
        print(next((l["count"] for l in f["lines"] if l["line_number"] == lines[0]), "absent"))
PY
}

case $mode in
  report)
    out=$("$cli" check --kernel "$tree" --driver linux:arm-64-lpae-s1-4k --ops 300 \
          --iommu smmuv3-norange --out "$work/findings" --coverage "$work/cov" 2>&1)
    expect_code $? 0 "$out"
    expect_match '^coverage: drivers/iommu/io-pgtable-arm.c: lines [1-9][0-9]*/[1-9][0-9]* ' "$out"
    expect_match '^coverage report: .*/cov/index.html$' "$out"
    if ! grep -q 'io-pgtable-arm.c' "$work/cov/index.html"; then
      printf 'index.html does not name io-pgtable-arm.c:\n%s\n' "$out"
      exit 1
    fi
    ;;
  blocks)
    block='pte |= ARM_LPAE_PTE_TYPE_BLOCK;'
    for size in 4k 2m; do
      out=$("$cli" replay "$traces/coverage_$size.trace" --kernel "$tree" \
            --coverage "$work/$size" 2>&1)
      expect_code $? 0 "$out"
    done
    n4k=$(count_of "$work/4k/coverage.json" "$block")
    n2m=$(count_of "$work/2m/coverage.json" "$block")
    if [ "$n4k" != 0 ] || ! [ "$n2m" -gt 0 ] 2>/dev/null; then
      printf 'the block line `%s` ran %s time(s) with 4K maps (want 0), %s with a 2M map (want > 0)\n' \
        "$block" "$n4k" "$n2m"
      exit 1
    fi
    echo "block line: 4K maps 0, 2M map $n2m"
    ;;
  *) echo "coverage_test.sh: unknown mode $mode"; exit 2 ;;
esac
