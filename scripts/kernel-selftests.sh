#!/usr/bin/env bash
# kernel-selftests.sh TREE: builds and runs a Linux tree's own io-pgtable tests in userspace
# against iommucheck's shim (conform/linux/, docs/LINUX.md "The kernel's own tests"): the LPAE
# and v7s selftest initcalls (CONFIG_IOMMU_IO_PGTABLE_{LPAE,ARMV7S}_SELFTEST), or, where the tree
# has drivers/iommu/io-pgtable-arm-selftests.c (7.x), its KUnit suite under our minimal KUnit.
# Prints one PASS/FAIL line per test; exit 0 all pass, 1 a test failed (or crashed or hung),
# 2 the tree cannot be built.
# With --coverage DIR first, the tree's files are built with gcc --coverage and, after the run,
# gcovr writes a line and branch report into DIR (index.html, coverage.json) and
# coverage_summary.py prints each io-pgtable file's figures without the selftest blocks
# (docs/LINUX.md "Coverage").
set -u
coverage=""
if [ "${1:-}" = "--coverage" ]; then
  coverage=${2:?usage: kernel-selftests.sh [--coverage DIR] TREE}
  shift 2
  mkdir -p "$coverage" || exit 2
  coverage=$(cd "$coverage" && pwd)
fi
tree=${1:?usage: kernel-selftests.sh [--coverage DIR] TREE}
tree=$(cd "$tree" && pwd)
shim=$(cd "$(dirname "$0")/../conform/linux" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iommucheck-selftests-XXXXXX")
trap 'rm -rf "$work"' EXIT
flags=(-std=gnu11 -O1 -g -fno-strict-aliasing -fno-strict-overflow -Wno-all
       -Werror=implicit-function-declaration -I"$shim/selftest_include" -I"$shim/include"
       -I"$tree/include" -I"$shim/.." -I"$shim" -I"$tree"
       -DCONFIG_IOMMU_IO_PGTABLE_LPAE=1 -DCONFIG_IOMMU_IO_PGTABLE_ARMV7S=1
       -DCONFIG_IOMMU_IO_PGTABLE_DART=1 -DCONFIG_PHYS_ADDR_T_64BIT=1
       -DCONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST=1)
# As the campaigns' coverage build (conform/linux_build.cc): unoptimized, so a line is a line.
[ -n "$coverage" ] && flags+=(--coverage -O0)
sources=("$tree/drivers/iommu/io-pgtable.c" "$tree/drivers/iommu/io-pgtable-dart.c"
         "$shim/selftest_v7s.c" "$shim/runtime.c" "$shim/coherent.c"
         "$shim/scratch_host.c" "$shim/selftest_main.c")
if [ -f "$tree/drivers/iommu/io-pgtable-arm-selftests.c" ]; then
  sources+=("$tree/drivers/iommu/io-pgtable-arm.c" "$shim/selftest_kunit_lpae.c")
else
  flags+=(-DCONFIG_IOMMU_IO_PGTABLE_LPAE_SELFTEST=1)
  sources+=("$shim/selftest_lpae.c")
fi
for src in "${sources[@]}"; do
  if ! out=$(cc "${flags[@]}" -c "$src" -o "$work/$(basename "$src" .c).o" 2>&1); then
    printf 'kernel %s: compiling %s failed:\n%s\n' "$tree" "$src" "$out" >&2
    exit 2
  fi
done
cc ${coverage:+--coverage} -o "$work/selftests" "$work"/*.o -lpthread || exit 2
# A mutant may make a selftest loop forever or crash: both are failures.
timeout 120 "$work/selftests"
code=$?
if [ "$code" -eq 124 ]; then echo "selftests: FAIL (hung: killed after 120 s)"; exit 1; fi
if [ "$code" -gt 1 ]; then echo "selftests: FAIL (exit $code: crashed)"; exit 1; fi
if [ -n "$coverage" ]; then
  # A relative --filter is matched against paths relative to gcovr's working directory.
  if ! (cd "$tree" && gcovr --root "$tree" --filter 'drivers/iommu/io-pgtable[^/]*\.c$' \
       --html-details "$coverage/index.html" --json "$coverage/coverage.json" \
       "$work") >"$coverage/gcovr.log" 2>&1; then
    echo "kernel-selftests: gcovr failed (see $coverage/gcovr.log)" >&2
    exit 2
  fi
  python3 "$(dirname "$0")/coverage_summary.py" "$coverage/coverage.json" "$tree" || exit 2
fi
exit "$code"
