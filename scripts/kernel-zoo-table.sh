#!/usr/bin/env bash
# kernel-zoo-table.sh IOMMUCHECK TREE: for each kernel mutant (`iommucheck mutants
# --driver-source linux`), whether the tree's own io-pgtable tests (scripts/kernel-selftests.sh)
# kill it. One line per mutant: NAME killed|survived|n/a. The iommucheck column of the table in
# docs/LINUX.md comes from `iommucheck mutants --driver-source linux --kernel TREE`.
set -u
cli=${1:?usage: kernel-zoo-table.sh IOMMUCHECK TREE}
tree=${2:?usage: kernel-zoo-table.sh IOMMUCHECK TREE}
here=$(cd "$(dirname "$0")" && pwd)
names=$("$cli" mutants --driver-source linux --kernel "$tree" --only '?' 2>&1 |
        sed -n 's/.*valid names: //p')
[ -n "$names" ] || { echo "cannot list the kernel mutants with $cli" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/iommucheck-zoo-XXXXXX")
trap 'rm -rf "$work"' EXIT
kunit=drivers/iommu/io-pgtable-arm-selftests.c
for name in $names; do
  rm -rf "$work/tree"
  if ! "$cli" mutants --driver-source linux --kernel "$tree" --only "$name" \
       --write-tree "$work/tree" >/dev/null 2>&1; then
    echo "$name n/a"
    continue
  fi
  [ -f "$tree/$kunit" ] && cp "$tree/$kunit" "$work/tree/$kunit"
  if "$here/kernel-selftests.sh" "$work/tree" >"$work/log" 2>&1; then
    echo "$name survived"
  else
    echo "$name killed: $(grep -E 'FAIL' "$work/log" | head -3 | tr '\n' ';')"
  fi
done
