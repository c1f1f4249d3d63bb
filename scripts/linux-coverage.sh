#!/usr/bin/env bash
# linux-coverage.sh CLI TREE OUT [SECONDS [FILE...]]: the coverage table of docs/LINUX.md ("Coverage") for
# one kernel tree. For each driver file (io-pgtable-arm.c, -arm-v7s.c, -dart.c) a SECONDS-second
# (default 60) campaign budget is split evenly over every linux: variant of that file the tree
# provides, half contract and half hostile, each run with `check --coverage`; gcovr merges the
# runs of a file and coverage_summary.py prints its lines and branches, then the lines still
# unreached, by function. Then the kernel's own tests (kernel-selftests.sh --coverage) on the
# same tree, for comparison. Everything lands under OUT (one directory per run, a merged
# report per file: OUT/FILE/index.html). Exit 0, or 2 when a run fails to run (a campaign's
# findings do not stop it: the baselines document them). FILE... limits it to those files.
set -u
cli=${1:?usage: linux-coverage.sh CLI TREE OUT [SECONDS]}
tree=${2:?usage: linux-coverage.sh CLI TREE OUT [SECONDS]}
out=${3:?usage: linux-coverage.sh CLI TREE OUT [SECONDS]}
seconds=${4:-60}
shift $(($# < 4 ? $# : 4))
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(io-pgtable-arm.c io-pgtable-arm-v7s.c io-pgtable-dart.c)
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$tree" && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)

variants=$("$cli" drivers --kernel "$tree" | grep -v $'\tunavailable: ' |
          sed -n 's/^linux:\([^\t]*\)\t.*/\1/p') || exit 2

file_of() {
  case $1 in
    arm-v7s*) echo io-pgtable-arm-v7s.c ;;
    apple-dart*) echo io-pgtable-dart.c ;;
    *) echo io-pgtable-arm.c ;;
  esac
}

for file in "${files[@]}"; do
  mine=()
  for v in $variants; do [ "$(file_of "$v")" = "$file" ] && mine+=("$v"); done
  per=$(python3 -c "print(round($seconds / (2 * ${#mine[@]}), 2))")
  dir=$out/${file%.c}
  rm -rf "$dir"
  mkdir -p "$dir/runs"
  start=$SECONDS
  for v in "${mine[@]}"; do
    for caller in contract hostile; do
      "$cli" check --kernel "$tree" --driver "linux:$v" --caller "$caller" --time "$per" \
        --out "$dir/findings" --coverage "$dir/runs/$v-$caller" >"$dir/runs/$v-$caller.log" 2>&1 ||
        [ $? -eq 1 ] || { echo "linux-coverage: $v $caller failed: $dir/runs/$v-$caller.log"; exit 2; }
    done
  done
  (cd "$dir" && gcovr --add-tracefile "runs/*/coverage.json" --json merged.json \
     --html-details index.html --root "$tree") >"$dir/gcovr.log" 2>&1 ||
    { echo "linux-coverage: merging $file's runs failed: $dir/gcovr.log"; exit 2; }
  echo "== $file: ${#mine[@]} variants x (contract, hostile) x $per s, $((SECONDS - start)) s wall"
  python3 "$here/coverage_summary.py" "$dir/merged.json" "$tree" --unreached "--file=/$file"
done

echo "== the kernel's own tests (kernel-selftests.sh --coverage)"
"$here/kernel-selftests.sh" --coverage "$out/selftests" "$tree" | grep -v ': PASS'
