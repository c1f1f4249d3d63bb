#!/usr/bin/env bash
# scripts/oss-fuzz-build.sh run the way OSS-Fuzz's `compile` runs a project's build.sh, with
# clang-14 and the environment of an AddressSanitizer libFuzzer build, into a fresh $OUT; then
# each target it built runs from $OUT as ClusterFuzz runs it (its options file as flags, its
# seed corpus unzipped) for SECONDS and must exit 0. docs/FUZZING.md, "Continuous fuzzing".
#   oss_fuzz_build_test.sh REPO WORKDIR SECONDS TARGETS [KERNEL_TREE]
# TARGETS: as IOMMUCHECK_FUZZ_TARGETS ("" for all). WORKDIR keeps $WORK between runs, so a
# second run rebuilds only what changed; $SRC and $OUT are made afresh.
set -u
repo=$1 dir=$2 seconds=$3 targets=$4 tree=${5:-}
start=$SECONDS

fail() {
  echo "FAIL: $*"
  exit 1
}

export SRC=$dir/src WORK=$dir/work OUT=$dir/out
rm -rf "$SRC" "$OUT"
mkdir -p "$SRC/kernels" "$WORK" "$OUT"
ln -s "$repo" "$SRC/iommucheck"
[ -z "$tree" ] || ln -s "$tree" "$SRC/kernels/$(basename "$tree")"
# What the Dockerfiles do: the project's build.sh becomes $SRC/build.sh.
cp "$repo/fuzz/oss-fuzz/build.sh" "$SRC/build.sh"

# base-clang's CFLAGS, then compile's sanitizer and coverage flags for address + libfuzzer;
# C++ against libc++ as in every OSS-Fuzz build.
cflags="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
cflags+=" -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
log=$dir/build.log
(
  cd "$SRC" &&
    env -u IOMMUCHECK_KERNEL -u IOMMUCHECK_FUZZ_DRIVER -u IOMMUCHECK_FUZZ_PLUGINS \
      -u IOMMUCHECK_BASELINE CC=clang-14 CXX=clang++-14 CFLAGS="$cflags" \
      CXXFLAGS="$cflags -stdlib=libc++" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
      FUZZING_ENGINE=libfuzzer SANITIZER=address ARCHITECTURE=x86_64 FUZZING_LANGUAGE=c++ \
      IOMMUCHECK_FUZZ_TARGETS="$targets" IOMMUCHECK_BUILD_JOBS="${IOMMUCHECK_BUILD_JOBS:-2}" \
      bash -eux "$SRC/build.sh"
) >"$log" 2>&1 || {
  tail -40 "$log"
  fail "build.sh failed (log: $log)"
}
build_seconds=$((SECONDS - start))

mapfile -t built < <(cd "$OUT" && for f in *; do
  [ -f "$f" ] && [ -x "$f" ] && grep -q LLVMFuzzerTestOneInput "$f" && echo "$f"
done)
[ ${#built[@]} -gt 0 ] || fail "no fuzz target in \$OUT: $(ls "$OUT")"
wanted=${targets:-fuzz_trace fuzz_decode fuzz_diff fuzz_iopt fuzz_virtio fuzz_dma fuzz_diff_linux}
for t in $wanted; do
  [ "$t" != fuzz_diff_linux ] || [ -n "$tree" ] || continue
  [[ " ${built[*]} " == *" $t"* ]] || fail "target $t is not in \$OUT (${built[*]})"
done

# The runners have the C and C++ runtimes, not the build machine's other libraries.
runtime='^(linux-vdso|libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|libc\+\+|libc\+\+abi|libunwind|ld-linux-x86-64)\.so'
for t in "${built[@]}"; do
  for f in "$OUT/$t.dict" "$OUT/$t.options" "$OUT/${t}_seed_corpus.zip"; do
    [ -s "$f" ] || fail "$t: no $(basename "$f") in \$OUT"
  done
  extra=$(ldd "$OUT/$t" | awk '{sub(".*/", "", $1); print $1}' | grep -Ev "$runtime")
  [ -z "$extra" ] || fail "$t needs libraries the runners lack: $extra"
done

# ClusterFuzz passes each `key = value` of the options file's [libfuzzer] section as -key=value.
options_flags() {
  awk -F' *= *' '/^\[/ { s = $0; next } s == "[libfuzzer]" && NF == 2 { print "-" $1 "=" $2 }' "$1"
}

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${built[@]}"; do
  corpus=$dir/corpus/$t
  rm -rf "$corpus"
  mkdir -p "$corpus"
  unzip -q "$OUT/${t}_seed_corpus.zip" -d "$corpus"
  mapfile -t flags < <(options_flags "$OUT/$t.options")
  run_log=$dir/$t.log
  (cd "$OUT" && "./$t" "${flags[@]}" -max_total_time="$seconds" -timeout=25 \
    -rss_limit_mb=2560 -artifact_prefix="$dir/$t-" "$corpus") >"$run_log" 2>&1 || {
    tail -40 "$run_log"
    fail "$t exited non-zero from \$OUT (log: $run_log)"
  }
  # fuzz_diff_linux_*: its plugins are loaded, and counted by libFuzzer as modules of their own.
  modules=$(sed -n 's/^INFO: Loaded \([0-9]*\) modules.*/\1/p' "$run_log" | head -n 1)
  if [[ $t == fuzz_diff_linux_* ]] && [ "${modules:-0}" -le 1 ]; then
    fail "$t ran without its kernel plugins (libFuzzer loaded ${modules:-no} modules)"
  fi
  echo "$t: $(grep -cE '^#[0-9]+' "$run_log") status lines, ${modules:-?} modules, $(grep -Eo 'cov: [0-9]+' "$run_log" | tail -n 1)"
done
echo "oss-fuzz build: ${#built[@]} targets built and ran ${seconds} s each from \$OUT:" \
  "${built[*]} (build ${build_seconds} s, all $((SECONDS - start)) s)"
