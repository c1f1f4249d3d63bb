#!/usr/bin/env python3
"""A mutation runner: does the test suite notice when the checker's own code is wrong?

Each mutant is one small edit of one source file (scripts/mutate_ops.py: flip a comparison,
off-by-one a literal, drop a statement, swap two arguments). The runner applies one mutant at a
time to a scratch copy of the tree (build/mutate/src; the working tree is never touched),
rebuilds only the test binaries given (incrementally, through ccache), runs their tests with
ctest, and counts the mutant killed when a test fails or the run exceeds the timeout (a hang is
a kill), survived when every test passes, and not compiling (not counted) when the build fails.
A survivor listed in scripts/mutate_equivalent.py (a change no test of behaviour can see, with
the reason) counts as equivalent, not as survived.

  scripts/mutate.py                                  # every mutant of the default files
  scripts/mutate.py --files ref/pgtable.cc --sample 40 --seed 1
  scripts/mutate.py --list --files 'conform/judge*.cc'
  scripts/mutate.py --ids ref/pgtable.cc:17,ref/pgtable.cc:42   # re-run chosen mutants

The report (markdown, default build/mutate/report.md) gives per file and per --files pattern
the killed / survived / equivalent / not compiling counts and the score killed / (killed +
survived), with every survivor's location and diff and every equivalent mutant's reason. A
developer tool: CI does not run it. Exit status: 0 when done, 2 for bad options or a baseline
that does not build or pass.
"""

import argparse
import glob
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate_equivalent  # noqa: E402
import mutate_ops  # noqa: E402

DEFAULT_FILES = ["ref/*.cc", "conform/judge*.cc", "conform/checker*.cc"]
# The test binaries of ref/ and of the checker (one per test directory), less ref's exhaustive
# iommu_pgsize case, which alone outlasts every other test; name it with --ctest-regex when
# mutating ref/pgsize.cc.
DEFAULT_TARGETS = ["ref_tests", "conform_tests"]
DEFAULT_CTEST_REGEX = r"^(?!IommuPgsize\.MatchesBruteForceExhaustively$)"
STATUSES = ("killed", "survived", "equivalent", "not compiling")
CCACHE_ENV = {"CCACHE_DIR": "/work/.ccache", "CCACHE_MAXSIZE": "20G", "CCACHE_NOHASHDIR": "1"}


class UsageError(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", nargs="+", default=DEFAULT_FILES, metavar="GLOB",
                   help="source files to mutate, relative to the repository (each pattern is one "
                        "group in the report); default: %(default)s")
    p.add_argument("--targets", nargs="+", default=DEFAULT_TARGETS, metavar="TARGET",
                   help="test binaries to rebuild per mutant; default: %(default)s")
    p.add_argument("--ctest-regex", default=DEFAULT_CTEST_REGEX, metavar="RE",
                   help="run only the tests of those binaries whose name matches RE")
    p.add_argument("--operators", default=",".join(mutate_ops.OPERATORS),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--max", type=int, default=0, metavar="N", help="stop after N mutants")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="a random N of the mutants (per --files pattern), seeded by --seed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ids", default="", metavar="FILE:N,...",
                   help="only these mutants (numbers as --list prints them)")
    p.add_argument("--jobs", type=int, default=2, help="parallel build and test jobs")
    p.add_argument("--timeout", type=float, default=0, metavar="SECONDS",
                   help="per-mutant test timeout (default: 3x the baseline run + 30 s)")
    p.add_argument("--list", action="store_true", help="print the mutants and exit")
    p.add_argument("--workdir", default="build/mutate", help="scratch tree and build")
    p.add_argument("--report", default="", help="default: WORKDIR/report.md")
    args = p.parse_args(argv)
    ops = args.operators.split(",")
    if any(o not in mutate_ops.OPERATORS for o in ops):
        raise UsageError(f"--operators {args.operators!r}: each must be one of "
                         f"{', '.join(mutate_ops.OPERATORS)}")
    args.operators = ops
    for name in ("max", "sample", "jobs", "timeout"):
        if getattr(args, name) < 0 or (name == "jobs" and args.jobs == 0):
            raise UsageError(f"--{name} {getattr(args, name)}: must be positive")
    return args


def repo_root():
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.run(["git", "-C", here, "rev-parse", "--show-toplevel"], check=True,
                          capture_output=True, text=True).stdout.strip()


def expand_braces(pattern):
    """'ref/{a,b}.cc' -> ['ref/a.cc', 'ref/b.cc'], as a shell would, so one group can name
    several files."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",")
            for x in expand_braces(pattern[: m.start()] + alt + pattern[m.end() :])]


def select_mutants(root, args):
    """(group pattern, numbered mutants) per --files pattern, after --ids/--sample/--max."""
    groups = []
    for pattern in args.files:
        paths = sorted({os.path.relpath(p, root) for alt in expand_braces(pattern)
                        for p in glob.glob(os.path.join(root, alt))})
        if not paths:
            raise UsageError(f"--files {pattern!r}: matches no file under {root}")
        found = []
        for path in paths:
            with open(os.path.join(root, path), encoding="utf-8") as f:
                text = f.read()
            for n, m in enumerate(mutate_ops.mutants(path, text, args.operators), 1):
                m.id = f"{path}:{n}"
                found.append(m)
        groups.append((pattern, found))
    if args.ids:
        wanted = set(args.ids.split(","))
        groups = [(g, [m for m in ms if m.id in wanted]) for g, ms in groups]
        missing = wanted - {m.id for _, ms in groups for m in ms}
        if missing:
            raise UsageError(f"--ids: no mutant {', '.join(sorted(missing))}")
    if args.sample:
        rng = random.Random(args.seed)
        groups = [(g, sorted(rng.sample(ms, min(args.sample, len(ms))),
                             key=lambda m: (m.path, m.start))) for g, ms in groups]
    if args.max:
        left, capped = args.max, []
        for g, ms in groups:
            capped.append((g, ms[:left]))
            left -= len(capped[-1][1])
        groups = capped
    return groups


def source_files(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others",
                          "--exclude-standard"], check=True, capture_output=True, text=True)
    return [p for p in out.stdout.splitlines() if os.path.isfile(os.path.join(root, p))]


def sync_tree(root, src):
    """Makes src a copy of the repository's files; unchanged files keep their mtime, so the
    scratch build stays incremental across runs."""
    files = set(source_files(root))
    for path in files:
        a, b = os.path.join(root, path), os.path.join(src, path)
        if os.path.exists(b):
            with open(a, "rb") as fa, open(b, "rb") as fb:
                if fa.read() == fb.read():
                    continue
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        if rel == "build" or rel.startswith("build" + os.sep) or rel.startswith(".git"):
            dirnames[:] = []
            continue
        for name in filenames:
            path = os.path.normpath(os.path.join(rel, name))
            if path not in files:
                os.remove(os.path.join(dirpath, name))


def run(cmd, cwd, env, timeout=None):
    """(returncode or None on timeout, combined output). The whole process group is killed on
    timeout, so a hanging test binary does not outlive its ctest."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)  # interrupted: leave no build or test behind
        raise


class Sandbox:
    def __init__(self, root, args):
        self.src = os.path.abspath(os.path.join(root, args.workdir, "src"))
        self.build = os.path.join(self.src, "build", "default")
        self.args = args
        self.env = dict(os.environ)
        for k, v in CCACHE_ENV.items():
            self.env.setdefault(k, v)
        # The scratch tree sits where a worktree's build dir sits relative to its sources, so
        # ccache finds what any worktree already compiled.
        self.env.setdefault("CCACHE_BASEDIR", os.path.dirname(root))
        self.env.setdefault("RC_PARAMS", "max_success=30")
        self.tests_regex = None

    def prepare(self, root):
        os.makedirs(self.src, exist_ok=True)
        sync_tree(root, self.src)
        # Configured every run: test files added since the last run become targets.
        rc, out = run(["cmake", "--preset", "default", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache",
                       "-DCMAKE_C_COMPILER_LAUNCHER=ccache"], self.src, self.env)
        if rc != 0:
            raise UsageError(f"configuring the scratch tree failed:\n{out[-3000:]}")
        rc, out = run(["ninja", "-C", self.build, "-t", "targets", "all"], self.src, self.env)
        known = {line.split(":")[0] for line in out.splitlines()}
        missing = [t for t in self.args.targets if t not in known]
        if missing:
            raise UsageError(f"--targets: no such target {', '.join(missing)}")

    def build_targets(self):
        return run(["cmake", "--build", self.build, "-j", str(self.args.jobs), "--target",
                    *self.args.targets], self.src, self.env, timeout=1800)

    def select_tests(self):
        """Exact names of the tests that the chosen binaries run and --ctest-regex matches."""
        rc, out = run(["ctest", "--test-dir", self.build, "--show-only=json-v1"], self.src,
                      self.env)
        names = []
        for t in json.loads(out).get("tests", []):
            exe = os.path.basename((t.get("command") or [""])[0])
            if exe in self.args.targets and re.search(self.args.ctest_regex, t["name"]):
                names.append(t["name"])
        if not names:
            raise UsageError(f"no test of {' '.join(self.args.targets)} matches --ctest-regex "
                             f"{self.args.ctest_regex!r}")
        self.tests_regex = "^(" + "|".join(re.escape(n) for n in names) + ")$"
        return names

    def test(self, timeout):
        return run(["ctest", "--test-dir", self.build, "-R", self.tests_regex, "-j",
                    str(self.args.jobs), "--stop-on-failure", "--output-on-failure"],
                   self.src, self.env, timeout=timeout)


def first_failure(out):
    m = re.search(r"^.*(\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout|Subprocess aborted).*$", out,
                  re.M)
    return " ".join(m.group(0).split()) if m else out.strip().splitlines()[-1] if out else ""


def run_mutant(box, m, timeout):
    path = os.path.join(box.src, m.path)
    with open(path, encoding="utf-8") as f:
        original = f.read()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(m.apply(original))
        rc, out = box.build_targets()
        if rc != 0:
            return "not compiling", ""
        rc, out = box.test(timeout)
        if rc is None:
            return "killed", "timeout"
        if rc != 0:
            return "killed", first_failure(out)
        why = mutate_equivalent.reason(m, original)
        return ("equivalent", why) if why else ("survived", "")
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)


def diff_of(m, root):
    with open(os.path.join(root, m.path), encoding="utf-8") as f:
        text = f.read()
    old_lines = text[: m.end].splitlines()[m.line - 1 :]
    new_text = m.apply(text)
    new_lines = new_text[: m.start + len(m.new)].splitlines()[m.line - 1 :]
    tail = text[m.end :].split("\n", 1)[0]
    old_lines[-1] += tail
    if new_lines:
        new_lines[-1] += tail
    return "\n".join(["- " + l for l in old_lines] + ["+ " + l for l in new_lines])


def score(c):
    counted = c["killed"] + c["survived"]
    return f"{100.0 * c['killed'] / counted:.1f}%" if counted else "n/a"


def counts(statuses):
    c = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        c[status] += 1
    return c


def write_report(path, root, args, results, command):
    lines = ["# Mutation run", "", f"Command: `{command}`", "",
             "| group / file | killed | survived | equivalent | not compiling | score |",
             "|---|---|---|---|---|---|"]
    for group, entries in results:
        total = counts(status for _, status, _ in entries)
        lines.append(f"| **{group}** | {total['killed']} | {total['survived']} | "
                     f"{total['equivalent']} | {total['not compiling']} | **{score(total)}** |")
        for f in sorted({m.path for m, _, _ in entries}):
            c = counts(status for m, status, _ in entries if m.path == f)
            lines.append(f"| {f} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
                         f"{c['not compiling']} | {score(c)} |")
    for title, wanted in (("Survivors", "survived"), ("Equivalent", "equivalent")):
        lines += ["", f"## {title}", ""]
        for _, entries in results:
            for m, status, why in entries:
                if status == wanted:
                    lines += [f"### {m.id} ({m.op}) line {m.line}", "```diff", diff_of(m, root),
                              "```", ""] + ([why, ""] if why else [])
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    try:
        args = parse_args(argv)
        root = repo_root()
        groups = select_mutants(root, args)
        if args.list:
            try:
                for _, ms in groups:
                    for m in ms:
                        print(f"{m.id:28} {m.describe()}")
            except BrokenPipeError:  # `--list | head`
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        box = Sandbox(root, args)
        box.prepare(root)
        print(f"baseline: building {len(args.targets)} targets in {box.src}", flush=True)
        rc, out = box.build_targets()
        if rc != 0:
            raise UsageError(f"the unmutated tree does not build:\n{out[-3000:]}")
        names = box.select_tests()
        start = time.monotonic()
        rc, out = box.test(None)
        baseline = time.monotonic() - start
        if rc != 0:
            raise UsageError(f"the unmutated tree fails its tests:\n{out[-3000:]}")
    except UsageError as e:
        print(f"mutate.py: {e}", file=sys.stderr)
        return 2
    timeout = args.timeout or 3 * baseline + 30
    total = sum(len(ms) for _, ms in groups)
    print(f"baseline: {len(names)} tests pass in {baseline:.1f} s; {total} mutants, "
          f"timeout {timeout:.0f} s each", flush=True)
    report = args.report or os.path.join(root, args.workdir, "report.md")
    command = shlex.join(["scripts/mutate.py", *argv])
    results, done = [], 0
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for group, ms in groups:
            entries = []
            results.append((group, entries))
            for m in ms:
                t0 = time.monotonic()
                status, why = run_mutant(box, m, timeout)
                entries.append((m, status, why))
                done += 1
                print(f"[{done}/{total}] {status:13} {time.monotonic() - t0:5.1f}s {m.id:28} "
                      f"{m.describe()}{'  ' + why if why else ''}", flush=True)
                write_report(report, root, args, results, command)
    except KeyboardInterrupt:
        print("interrupted: the report covers the mutants run so far", file=sys.stderr)
    write_report(report, root, args, results, command)
    for group, entries in results:
        c = counts(status for _, status, _ in entries)
        print(f"{group}: killed {c['killed']}, survived {c['survived']}, equivalent "
              f"{c['equivalent']}, not compiling {c['not compiling']}, score {score(c)}")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
