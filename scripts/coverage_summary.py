#!/usr/bin/env python3
"""coverage_summary.py COVERAGE.json ROOT [--unreached] [--file=NAME]: per kernel io-pgtable file, the lines
and branches covered, from gcovr's JSON (written by `iommucheck check --coverage DIR` as
DIR/coverage.json, or by `kernel-selftests.sh --coverage DIR`). ROOT is the tree the JSON's
file names are relative to. Lines inside the kernel's selftest blocks
(#ifdef CONFIG_IOMMU_IO_PGTABLE_*_SELFTEST ... #endif) are left out, so that the figures of
a campaign build (where they are not compiled) and of a selftest build compare; so are lines
gcovr marks as excluded or not code. With --unreached, the lines never run and the branches
never taken are listed after each file, grouped by the function they are in (docs/LINUX.md).
With --file=NAME, only the file whose name ends with NAME.

One line per file:
  drivers/iommu/io-pgtable-arm.c lines 812/1003 81.0% branches 400/560 71.4%
"""
import json
import re
import sys
from pathlib import Path

KERNEL_FILE = re.compile(r"(^|/)drivers/iommu/io-pgtable(-arm|-arm-v7s|-dart)?\.c$")
SELFTEST_IF = re.compile(r"^\s*#\s*if(def)?\s.*CONFIG_IOMMU_IO_PGTABLE_\w*SELFTEST")
PP_IF = re.compile(r"^\s*#\s*if")
PP_ENDIF = re.compile(r"^\s*#\s*endif")


def selftest_lines(source):
    """Line numbers (1-based) inside the selftest #if blocks of `source`."""
    out, depth = set(), 0
    for n, text in enumerate(source.splitlines(), 1):
        if depth == 0:
            if SELFTEST_IF.match(text):
                depth = 1
                out.add(n)
            continue
        out.add(n)
        if PP_IF.match(text):
            depth += 1
        elif PP_ENDIF.match(text):
            depth -= 1
    return out


FUNCTION_HEAD = re.compile(r"^(?:[A-Za-z_][^;(]*[\s*])?([A-Za-z_]\w*)\s*\(")


def function_starts(source):
    """(first line, name) of each function defined in `source`, kernel style: the head at
    column 0 names it, its body opens with `{` at column 0."""
    starts, head = [], None
    for n, text in enumerate(source.splitlines(), 1):
        if text.startswith("{") and head:
            starts.append(head)
            head = None
        elif not text.startswith(("#", " ", "\t", "}", "/", "*")):
            m = FUNCTION_HEAD.match(text)
            if m and not text.rstrip().endswith(";"):
                head = (n, m.group(1))
    return starts


def enclosing(starts, line):
    """The function whose head starts last at or before `line`."""
    names = [name for n, name in starts if n <= line]
    return names[-1] if names else "(file scope)"


def summarize(entry, root, unreached):
    path = Path(root) / entry["file"]
    source = path.read_text(errors="replace") if path.exists() else ""
    skip, starts = selftest_lines(source), function_starts(source)
    lines = covered = branches = taken = 0
    missing = {}
    for ln in entry["lines"]:
        n = ln["line_number"]
        if ln.get("gcovr/noncode") or ln.get("gcovr/excluded") or n in skip:
            continue
        lines += 1
        covered += ln["count"] > 0
        untaken = sum(1 for b in ln["branches"] if b["count"] == 0)
        branches += len(ln["branches"])
        taken += len(ln["branches"]) - untaken
        if unreached and (ln["count"] == 0 or untaken):
            what = "line" if ln["count"] == 0 else f"{untaken} branch(es)"
            missing.setdefault(enclosing(starts, n), []).append(f"{n} ({what})")
    pct = lambda a, b: f"{100.0 * a / b:.1f}%" if b else "-"
    print(f"{entry['file']} lines {covered}/{lines} {pct(covered, lines)} "
          f"branches {taken}/{branches} {pct(taken, branches)}")
    for fn, where in sorted(missing.items(), key=lambda kv: int(kv[1][0].split()[0])):
        print(f"  {fn}: {', '.join(where)}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    data = json.loads(Path(args[0]).read_text())
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--file=")), "")
    files = sorted((f for f in data["files"]
                    if KERNEL_FILE.search(f["file"]) and f["file"].endswith(only)),
                   key=lambda f: f["file"])
    if not files:
        sys.exit(f"{args[0]}: no kernel io-pgtable file in it")
    for entry in files:
        summarize(entry, args[1], "--unreached" in sys.argv)


if __name__ == "__main__":
    main()
