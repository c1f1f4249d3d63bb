#!/usr/bin/env bash
# fuzz_progress_test.sh SCRIPT: scripts/fuzz-progress.sh on a fake campaign directory: a line per
# interval with the time left and the findings so far (a crash appears between two lines), and
# it stops once the process that started it is gone.
set -uo pipefail
script="$1"
dir=$(mktemp -d)
trap 'rm -rf "${dir}"' EXIT
mkdir "${dir}/corpus"
touch "${dir}/corpus/a" "${dir}/corpus/b"
fail() { echo "FAIL: $1"; printf '%s\n' "${2:-}"; exit 1; }

(sleep 0.7 && touch "${dir}/crash-1") &
out=$(timeout 1.45 "${script}" "${dir}" 600 0.3 2>&1)
wait
lines=$(grep -cE "^fuzz ${dir}: [0-9]+s of 600s, [0-9]+s left, findings=[01] corpus=2$" <<<"${out}")
[[ ${lines} -ge 3 && ${lines} -le 5 ]] || fail "${lines} progress lines in 1.45 s at one per 0.3 s" "${out}"
[[ $(grep -c . <<<"${out}") -eq ${lines} ]] || fail "a line that is not a progress line" "${out}"
head -n 1 <<<"${out}" | grep -q "findings=0" || fail "the first line counts no finding" "${out}"
tail -n 1 <<<"${out}" | grep -q "findings=1" || fail "the last line counts the crash" "${out}"

# Its parent gone, it ends at its next line.
bash -c "\"${script}\" \"${dir}\" 600 0.2 2>/dev/null & echo \$! > \"${dir}/pid\"; sleep 0.3"
sleep 0.5
pid=$(cat "${dir}/pid")
state=$(ps -o stat= -p "${pid}")
if [[ -n "${state}" && "${state}" != Z* ]]; then  # a zombie has ended: nobody reaped it yet
  kill "${pid}"
  fail "it outlived the campaign that started it"
fi
echo "ok: fuzz-progress.sh"
