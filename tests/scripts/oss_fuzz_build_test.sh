#!/usr/bin/env bash
# scripts/oss-fuzz-build.sh run the way OSS-Fuzz's `compile` runs a project's build.sh, with
# clang-14 and the environment of an AddressSanitizer libFuzzer build, into a fresh $OUT; then
# each target it built runs from $OUT as ClusterFuzz runs it (its options file as flags, its
# seed corpus unzipped) for SECONDS and must exit 0. docs/FUZZING.md, "Continuous fuzzing".
#   oss_fuzz_build_test.sh REPO WORKDIR SECONDS TARGETS [KERNEL_TREE [IOMMUCHECK]]
# TARGETS: as IOMMUCHECK_FUZZ_TARGETS ("" for all). WORKDIR keeps $WORK between runs, so a
# second run rebuilds only what changed; $SRC and $OUT are made afresh. With the IOMMUCHECK
# command, a finding of $OUT/fuzz_diff (a seeded bug switched on) must come back through
# `iommucheck fuzz-trace` as the very trace the target printed.
set -u
repo=$1 dir=$2 seconds=$3 targets=$4 tree=${5:-} cli=${6:-}
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
runtime='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+'
runtime+='|libc\+\+|libc\+\+abi|libunwind)\.so'
for t in "${built[@]}"; do
  for f in "$OUT/$t.dict" "$OUT/$t.options" "$OUT/${t}_seed_corpus.zip"; do
    [ -s "$f" ] || fail "$t: no $(basename "$f") in \$OUT"
  done
  extra=$(ldd "$OUT/$t" | awk '{sub(".*/", "", $1); print $1}' | grep -Ev "$runtime")
  [ -z "$extra" ] || fail "$t needs libraries the runners lack: $extra"
done

# The kernel's plugins are built with the build's sanitizer, as fuzz_diff's own objects are.
for so in "$OUT"/*.plugins/linux-*.so; do
  [ -e "$so" ] || continue
  nm -D --undefined-only "$so" | grep -q __asan_report ||
    fail "$so has no AddressSanitizer checks: the kernel was built without \$CFLAGS"
done

# ClusterFuzz passes each `key = value` of the options file's [libfuzzer] section as -key=value.
options_flags() {
  awk -F' *= *' '/^\[/ { s = $0; next } s == "[libfuzzer]" && NF == 2 { print "-" $1 "=" $2 }' "$1"
}

# A crash file as the engines return it, turned back into a trace: `iommucheck fuzz-trace`
# (with --kernel for a Linux target) must give the very trace the target printed after its
# VIOLATION message, and `iommucheck replay` must run it (to the same VIOLATION line, unless
# the finding came from a seeded bug, which replay does not switch on).
#   comes_back NAME LOG CRASH REPLAY_CODE [--kernel TREE]
comes_back() {
  local name=$1 log=$2 crash=$3 want=$4 at=$dir/$1
  shift 4
  [ -n "$cli" ] || fail "$name: a finding, and no iommucheck to turn it into a trace"
  [ -n "$crash" ] || fail "$name: no crash file (log: $log)"
  # Up to the sanitizer's report; fuzz-trace's output starts with a comment naming the input.
  sed -n '/^VIOLATION: /,/^==[0-9]*==/p' "$log" | sed -n '/^driver /,/^==/p' | sed '$d' \
    >"$at.printed"
  "$cli" fuzz-trace "$@" "$crash" >"$at.trace" || fail "$name: iommucheck fuzz-trace failed"
  sed -n '/^driver /,$p' "$at.trace" | cmp -s "$at.printed" - && [ -s "$at.printed" ] ||
    fail "$name: iommucheck fuzz-trace $crash differs from the trace the target printed:
$(sed -n '/^driver /,$p' "$at.trace" | diff "$at.printed" -)"
  "$cli" replay "$@" "$at.trace" >"$at.replay" 2>&1
  local code=$? found replayed
  found=$(grep -m1 '^VIOLATION: ' "$log")
  replayed=$(grep -m1 '^VIOLATION: ' "$at.replay")
  [ "$code" -eq "$want" ] ||
    fail "$name: replay exited $code, expected $want: $(tail -5 "$at.replay")"
  [ "$want" -eq 0 ] || [ "$found" = "$replayed" ] ||
    fail "$name: replay found '$replayed', the target '$found'"
  echo "$name: $(basename "$crash") came back as a trace of $(grep -c . "$at.printed") lines;" \
    "replay exit $code${replayed:+: $replayed}"
}

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${built[@]}"; do
  corpus=$dir/corpus/$t
  rm -rf "$corpus" "$dir/$t"-crash-*
  mkdir -p "$corpus"
  unzip -q "$OUT/${t}_seed_corpus.zip" -d "$corpus"
  mapfile -t flags < <(options_flags "$OUT/$t.options")
  run_log=$dir/$t.log
  (cd "$OUT" && "./$t" "${flags[@]}" -max_total_time="$seconds" -timeout=25 \
    -rss_limit_mb=2560 -artifact_prefix="$dir/$t-" "$corpus") >"$run_log" 2>&1
  code=$?
  # fuzz_diff_linux_*: its plugins are loaded, and counted by libFuzzer as modules of their own.
  modules=$(sed -n 's/^INFO: Loaded \([0-9]*\) modules.*/\1/p' "$run_log" | head -n 1)
  if [[ $t == fuzz_diff_linux_* ]] && [ "${modules:-0}" -le 1 ]; then
    fail "$t ran without its kernel plugins (libFuzzer loaded ${modules:-no} modules)"
  fi
  echo "$t: exit $code, $(grep -cE '^#[0-9]+' "$run_log") status lines, ${modules:-?} modules," \
    "$(grep -Eo 'cov: [0-9]+' "$run_log" | tail -n 1)"
  [ "$code" -eq 0 ] && continue
  # Linux 6.12 has findings beyond its baseline that a campaign meets within a minute
  # (docs/LINUX.md): what OSS-Fuzz would report. Such a finding must come back to replay.
  if [[ $t == fuzz_diff_linux_* ]] && grep -q '^VIOLATION: ' "$run_log"; then
    comes_back "$t" "$run_log" "$(ls "$dir/$t"-crash-* 2>/dev/null | head -n 1)" 1 \
      --kernel "$SRC/kernels/$(basename "$tree")"
    continue
  fi
  tail -40 "$run_log"
  fail "$t exited $code from \$OUT (log: $run_log)"
done

# A seeded bug of impl switched on in $OUT/fuzz_diff gives a finding as the engines return it.
if [ -n "$cli" ] && [ -x "$OUT/fuzz_diff" ]; then
  rm -rf "$dir/mutant" "$dir/mutant-corpus"
  mkdir -p "$dir/mutant" "$dir/mutant-corpus"
  (cd "$OUT" && IOMMUCHECK_MUTANT=writable-read-only ./fuzz_diff -seed=1 -runs=100000 \
    -artifact_prefix="$dir/mutant/" "$dir/mutant-corpus") >"$dir/mutant.log" 2>&1 &&
    fail "fuzz_diff did not find the writable-read-only mutant in 100000 runs"
  crash=$(ls "$dir"/mutant/crash-* 2>/dev/null | head -n 1)
  comes_back fuzz_diff-mutant "$dir/mutant.log" "$crash" 0
fi
echo "oss-fuzz build: ${#built[@]} targets built and ran ${seconds} s each from \$OUT:" \
  "${built[*]} (build ${build_seconds} s, all $((SECONDS - start)) s)"
