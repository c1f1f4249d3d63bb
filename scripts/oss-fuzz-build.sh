#!/bin/bash -eu
# Builds the libFuzzer targets for OSS-Fuzz and ClusterFuzzLite, as their `compile` runs
# $SRC/build.sh (fuzz/oss-fuzz/build.sh and .clusterfuzzlite/build.sh call this script): the
# compiler, flags and engine come from $CC, $CXX, $CFLAGS, $CXXFLAGS and $LIB_FUZZING_ENGINE,
# the build goes to $WORK, and $OUT receives each target with TARGET_seed_corpus.zip (from
# fuzz/corpus/), TARGET.dict and TARGET.options (docs/FUZZING.md, "Continuous fuzzing").
#
# For each Linux tree under $SRC/kernels/ (the Dockerfile fetches Debian's linux-source-6.12
# there with scripts/fetch-kernel.sh), fuzz_diff_linux_VERSION is fuzz_diff with the tree's
# linux: plugins compiled now, with this build's compiler and flags, into
# fuzz_diff_linux_VERSION.plugins/ beside it (with the tree's baseline): the runners have no
# compiler, and fuzz_diff loads the directory named after itself (fuzz/fuzz_diff.cc).
#
# IOMMUCHECK_FUZZ_TARGETS: the targets to build, space separated (default: all;
# fuzz_diff_linux stands for every tree's). IOMMUCHECK_KERNELS: where the trees are (default
# $SRC/kernels). IOMMUCHECK_BUILD_JOBS: parallel jobs (default: every core).
set -o pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SRC:?} ${WORK:?} ${OUT:?} ${CC:?} ${CXX:?} ${LIB_FUZZING_ENGINE:?}"
kernels=${IOMMUCHECK_KERNELS:-$SRC/kernels}
all="fuzz_trace fuzz_decode fuzz_diff fuzz_iopt fuzz_virtio fuzz_dma fuzz_diff_linux"
targets=${IOMMUCHECK_FUZZ_TARGETS:-$all}

# libFuzzer options per target: input sizes that hold every seed and leave room to grow.
declare -A max_len=([fuzz_trace]=4096 [fuzz_decode]=200000 [fuzz_diff]=1024 [fuzz_iopt]=4096
                    [fuzz_virtio]=1024 [fuzz_dma]=4096)

wants() { [[ " $targets " == *" $1 "* ]]; }

die() {
  echo "oss-fuzz-build: $*" >&2
  exit 1
}

for t in $targets; do
  [[ -v "max_len[$t]" || $t == fuzz_diff_linux ]] || die "IOMMUCHECK_FUZZ_TARGETS: no target '$t'"
done

# Linux trees: fuzz_diff loads their plugins into its own process, registering the kernel's
# coverage with libFuzzer; other engines would not see it.
trees=()
if wants fuzz_diff_linux && [ "${FUZZING_ENGINE:-libfuzzer}" = libfuzzer ]; then
  for tree in "$kernels"/*/; do
    [ -f "$tree/drivers/iommu/io-pgtable-arm.c" ] && trees+=("${tree%/}")
  done
  [ ${#trees[@]} -gt 0 ] || echo "oss-fuzz-build: no Linux tree in $kernels: no fuzz_diff_linux_*"
fi

build_targets=()
for t in $targets; do [ "$t" = fuzz_diff_linux ] || build_targets+=("$t"); done
[ ${#trees[@]} -eq 0 ] || wants fuzz_diff || build_targets+=(fuzz_diff)

build=$WORK/iommucheck-build
# OSS-Fuzz builds C++ against its own libc++; the code needs C++20's std::atomic_ref, which
# libc++ has only from LLVM 19. The system's libstdc++ has it, and the runners have libstdc++.
export CXXFLAGS=${CXXFLAGS//-stdlib=libc++/}
# $CFLAGS and $CXXFLAGS carry the sanitizers and the engine's instrumentation; no build type
# adds its own optimization. fmt is compiled in: the runners lack the system's libfmt.
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DCMAKE_BUILD_TYPE= \
  -DBUILD_TESTING=OFF -DIOMMUCHECK_FUZZ=ON -DIOMMUCHECK_SANITIZE= \
  -DIOMMUCHECK_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" -DIOMMUCHECK_FMT_HEADER_ONLY=ON
cmake --build "$build" -j "${IOMMUCHECK_BUILD_JOBS:-$(nproc)}" --target "${build_targets[@]}"

# TARGET: the executable BINARY with the seed corpus, dictionary and options of CORPUS.
install_target() {
  local target=$1 binary=$2 corpus=$3
  cp "$build/fuzz/$binary" "$OUT/$target"
  rm -f "$OUT/${target}_seed_corpus.zip"
  (cd "$src/fuzz/corpus/$corpus" && zip -q -j "$OUT/${target}_seed_corpus.zip" ./*)
  cp "$src/fuzz/$corpus.dict" "$OUT/$target.dict"
  printf '[libfuzzer]\ndict = %s.dict\nmax_len = %s\n' "$target" "${max_len[$corpus]}" \
    >"$OUT/$target.options"
}

for t in $targets; do
  [ "$t" = fuzz_diff_linux ] || install_target "$t" "$t" "$t"
done

# The tree's version (VERSION.PATCHLEVEL of its Makefile), which names its baseline.
tree_version() {
  awk '$1 == "VERSION" { v = $3 } $1 == "PATCHLEVEL" { p = $3 } END { print v "." p }' \
    "$1/Makefile"
}

for tree in "${trees[@]}"; do
  version=$(tree_version "$tree")
  target=fuzz_diff_linux_${version//./_}
  echo "oss-fuzz-build: $target from $tree (Linux $version)"
  # fuzz_diff builds the plugins itself, exactly as it would at run time, into a fresh cache.
  cache=$WORK/linux-cache-$version
  rm -rf "$cache" "$WORK/empty-corpus"
  mkdir -p "$WORK/empty-corpus"
  IOMMUCHECK_CACHE_DIR=$cache ASAN_OPTIONS=detect_leaks=0 \
    "$build/fuzz/fuzz_diff" --kernel="$tree" -runs=0 "$WORK/empty-corpus" ||
    die "fuzz_diff could not build the plugins of $tree"
  entries=("$cache"/linux/*/variants)
  [ ${#entries[@]} -eq 1 ] && [ -f "${entries[0]}" ] ||
    die "expected one build of $tree in $cache/linux, found ${entries[*]}"
  plugins=$OUT/$target.plugins
  rm -rf "$plugins"
  mkdir -p "$plugins"
  cp "${entries[0]}" "$(dirname "${entries[0]}")"/linux-*.so "$plugins/"
  baseline=$src/conform/linux/baselines/$version.baseline
  if [ -f "$baseline" ]; then
    cp "$baseline" "$plugins/baseline"
  else
    echo "oss-fuzz-build: no baseline for Linux $version: its known findings will be crashes"
  fi
  install_target "$target" fuzz_diff fuzz_diff
done
