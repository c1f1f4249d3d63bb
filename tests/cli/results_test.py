#!/usr/bin/env python3
"""The CI formats and the progress lines of docs/CLI.md, read back as their consumers read them.

results_test.py CASE IOMMUCHECK PLUGIN_DIR TMP, CASE one of the functions named in CASES: each
runs iommucheck, parses what it wrote (JUnit XML with xml.etree, KTAP by its grammar, JSON lines
with json) and exits 1 naming what is wrong.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

CLI, PLUGINS, TMP = sys.argv[2], sys.argv[3], sys.argv[4]
SEEDED = os.path.join(PLUGINS, "example_plugin_seeded_bug.so")


def fail(what, *outputs):
    print(f"FAIL: {what}")
    for o in outputs:
        print(o)
    sys.exit(1)


def run(args, code, env=None):
    p = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    if p.returncode != code:
        fail(f"exit {p.returncode}, expected {code}: {args}", p.stdout, p.stderr)
    return p


def fresh(name):
    path = os.path.join(TMP, name)
    subprocess.run(["rm", "-rf", path], check=True)
    os.makedirs(path)
    return path


# A plugin path with XML's markup characters in it: the suite, the classname, a property and
# the trace path all carry it, so an unescaped writer makes a document no parser reads.
def marked_plugin():
    d = fresh("markup")
    link = os.path.join(d, "x<&\"'>.so")
    os.symlink(SEEDED, link)
    return os.path.join(d, "o<&\"'>"), "plugin:" + link


def read_junit(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path} is not XML: {e}", open(path, encoding="utf-8", errors="replace").read())
    if root.tag != "testsuites":
        fail(f"root element {root.tag}, expected testsuites")
    suites = root.findall("testsuite")
    if len(suites) != 1:
        fail(f"{len(suites)} testsuite elements, expected 1")
    suite = suites[0]
    cases = suite.findall("testcase")
    for attr, want in [("tests", len(cases)),
                       ("failures", sum(1 for c in cases if c.find("failure") is not None)),
                       ("skipped", sum(1 for c in cases if c.find("skipped") is not None))]:
        for el in (root, suite):
            if int(el.get(attr, -1)) != want:
                fail(f"<{el.tag} {attr}={el.get(attr)}>, but {want} testcases say so")
    for c in cases:
        if not c.get("name") or c.get("classname") is None or float(c.get("time")) < 0:
            fail(f"testcase without name, classname or time: {c.attrib}")
        if len([e for e in c if e.tag in ("failure", "skipped", "error")]) > 1:
            fail(f"testcase {c.get('name')} has more than one result element")
    return suite, cases


KTAP_RESULT = re.compile(r"^(ok|not ok) ([1-9][0-9]*)( [^#]*)?( # (SKIP|TODO|XFAIL|TIMEOUT|ERROR).*)?$")


# KTAP version 1 (Documentation/dev-tools/ktap.rst), flat: the version line, the plan, then only
# diagnostic ("# ...") and result lines, numbered from 1 up to the plan. Returns the results.
def read_ktap(text):
    lines = text.split("\n")
    if lines[-1] != "":
        fail("KTAP output does not end with a newline", text)
    lines = lines[:-1]
    if len(lines) < 2 or lines[0] != "KTAP version 1":
        fail("KTAP output does not start with 'KTAP version 1'", text)
    plan = re.fullmatch(r"1\.\.([0-9]+)", lines[1])
    if not plan:
        fail(f"second line '{lines[1]}' is not a plan 1..N", text)
    results = []
    for line in lines[2:]:
        if line.startswith("# "):
            continue
        m = KTAP_RESULT.match(line)
        if not m:
            fail(f"not a KTAP line: '{line}'", text)
        if int(m.group(2)) != len(results) + 1:
            fail(f"result {m.group(2)} out of order", text)
        results.append((m.group(1) == "ok", (m.group(3) or "").strip(), m.group(5)))
    if len(results) != int(plan.group(1)):
        fail(f"plan says {plan.group(1)} tests, {len(results)} results", text)
    return results


def read_json(text, code):
    try:
        records = [json.loads(line) for line in text.splitlines()]
    except json.JSONDecodeError as e:
        fail(f"not JSON lines: {e}", text)
    if not records or records[0]["type"] != "run" or records[-1]["type"] != "summary":
        fail("JSON lines do not go from a run record to a summary record", text)
    for key in ("command", "suite", "config", "version"):
        if key not in records[0]:
            fail(f"the run record has no {key}", text)
    summary = records[-1]
    if summary["exit_code"] != code:
        fail(f"summary exit_code {summary['exit_code']}, the process exited {code}", text)
    cases = [r for r in records if r["type"] == "case"]
    findings = [r for r in records if r["type"] == "finding"]
    if summary["tests"] != len(cases) or summary["failed"] != sum(c["verdict"] == "fail" for c in cases):
        fail("the summary's counts do not match the cases", text)
    for f in findings:
        for key in ("case", "signature", "check", "op", "message", "trace", "trace_ops", "seed"):
            if key not in f:
                fail(f"a finding without {key}", text)
    return records[0], cases, findings, summary


def check_clean():
    out = fresh("clean")
    xml, js = os.path.join(out, "r.xml"), os.path.join(out, "r.json")
    p = run(["check", "--driver", "impl:arm-64-lpae-s1-4k", "--ops", "3000", "--out", out,
             "--junit", xml, "--json", js, "--ktap"], 0)
    _, cases = read_junit(xml)
    if len(cases) != 1 or cases[0].find("failure") is not None:
        fail("a clean run is one passing testcase", open(xml).read())
    if read_ktap(p.stdout) != [(True, "iommu=smmuv3 strict np_caching=off", None)]:
        fail("a clean run is one ok test", p.stdout)
    run_record, cases, findings, summary = read_json(open(js).read(), 0)
    if run_record["config"]["driver"] != "impl:arm-64-lpae-s1-4k" or summary["ops"] != 3000 or findings:
        fail("the JSON does not say what ran", open(js).read())
    if "summary: driver=impl:arm-64-lpae-s1-4k ops=3000" not in p.stderr:
        fail("with --ktap on stdout, the text report goes to stderr", p.stderr)


def check_finding():
    out, driver = marked_plugin()
    xml = os.path.join(TMP, "markup", "r.xml")
    p = run(["check", "--driver", driver, "--ops", "20000", "--out", out, "--junit", xml,
             "--json"], 1)
    suite, cases = read_junit(xml)
    if suite.get("name") != "check " + driver:
        fail(f"suite name {suite.get('name')!r} is not the driver's, escaped and read back")
    failure = cases[0].find("failure")
    if failure is None or "did not tlb_add_page" not in failure.get("message", ""):
        fail("the seeded bug's testcase has no failure naming it", open(xml).read())
    if out + "/plugin-x_____.so-contract-seed1-driver-call" not in (failure.text or ""):
        fail("the failure's text does not name the trace", failure.text)
    _, cases, findings, _ = read_json(p.stdout, 1)
    if len(findings) != 1:
        fail(f"{len(findings)} findings, expected 1", p.stdout)
    f = findings[0]
    if f["check"] != "driver-call" or not f["trace"] or not os.path.isfile(f["trace"]):
        fail("the finding does not point to its trace file", p.stdout)
    # The op number is the failing op's line in the trace (as replay counts).
    ops = [l for l in open(f["trace"]).read().splitlines()
           if l and not l.startswith(("#", "driver", "config", "iommu", "seed"))]
    if f["trace_ops"] != len(ops) or not 1 <= f["op"] <= len(ops) or not ops[f["op"] - 1].startswith("unmap"):
        fail(f"op {f['op']} of {f['trace_ops']} is not the trace's failing unmap: {ops}")


def check_mutants():
    p = run(["mutants", "--driver-source", "dma", "--seconds-per", "5", "--ktap"], 0)
    results = read_ktap(p.stdout)
    if len(results) != 4 or not all(ok for ok, _, _ in results):
        fail("the DMA zoo is four passing tests (each mutant killed)", p.stdout)


def check_prove():
    out = fresh("prove")
    xml = os.path.join(out, "r.xml")
    p = run(["prove", "--only", "map-sg-merge-maps-once/drops-last-run", "--out", out,
             "--junit", xml, "--ktap"], 1)
    if read_ktap(p.stdout) != [(False, "map-sg-merge-maps-once/drops-last-run", None)]:
        fail("a counterexample is a not ok test", p.stdout)
    _, cases = read_junit(xml)
    failure = cases[0].find("failure")
    if failure is None or not failure.get("message", "").startswith("counterexample: "):
        fail("a counterexample is a failure", open(xml).read())


# Non-terminal progress: lines with count, rate and ETA, no closer than the interval, on stderr.
PROGRESS = re.compile(r"^check impl:arm-v7s: ([0-9]+)(/[0-9]+)? ops( \([0-9]+%\))?, "
                      r"([0-9.]+)s, [0-9.]+ ops/s, ETA ([0-9.]+s|[0-9]+m[0-9]{2}s)$")


def check_progress():
    p = run(["check", "--driver", "impl:arm-v7s", "--time", "1.2", "--ktap"], 0,
            env={"IOMMUCHECK_PROGRESS_SECONDS": "0.25"})
    read_ktap(p.stdout)  # stdout is KTAP alone: no progress line in it
    lines = [m for m in map(PROGRESS.match, p.stderr.splitlines()) if m]
    if not 3 <= len(lines) <= 6:
        fail(f"{len(lines)} progress lines in 1.2 s at one per 0.25 s", p.stderr)
    times = [float(m.group(4)) for m in lines]
    if any(b - a < 0.15 for a, b in zip(times, times[1:])):  # elapsed is printed to 0.1 s
        fail(f"progress lines closer than 0.25 s: {times}", p.stderr)
    if not all(m.group(5) for m in lines) or "\r" in p.stderr or "\x1b" in p.stderr:
        fail("a log's progress lines are plain lines with an ETA", p.stderr)


def check_progress_items():
    p = run(["mutants", "--driver-source", "dma", "--seconds-per", "5", "--json"], 0,
            env={"IOMMUCHECK_PROGRESS_SECONDS": "0"})
    read_json(p.stdout, 0)
    items = re.findall(r"^mutants dma: ([0-9])/4 mutants \([0-9]+%\), [0-9.]+s, [0-9.]+ mutants/s, "
                       r"ETA [^:]+: (dma-[a-z-]+) on ", p.stderr, re.M)
    if [n for n, _ in items] != ["0", "1", "2", "3"]:
        fail("one progress line per mutant, N of 4, with its name", p.stderr)


def check_progress_bad_interval():
    p = run(["check", "--driver", "impl:arm-v7s", "--ops", "10"], 2,
            env={"IOMMUCHECK_PROGRESS_SECONDS": "soon"})
    if "IOMMUCHECK_PROGRESS_SECONDS=soon: not a number of seconds" not in p.stderr:
        fail("a bad interval is named", p.stderr)


def check_options():
    out = fresh("options")
    p = run(["check", "--driver", "impl:arm-v7s", "--ops", "10", "--ktap", "--json"], 2)
    if "--ktap and --json both write to stdout" not in p.stderr:
        fail("two formats on stdout are refused", p.stderr)
    p = run(["check", "--driver", "impl:arm-v7s", "--ops", "10", "--junit", "/nonexistent/r.xml"], 2)
    if "--junit /nonexistent/r.xml: No such file or directory" not in p.stderr:
        fail("an unwritable --junit is named before the run", p.stderr)
    # A run that ends in a usage error leaves no half-written result file behind.
    xml = os.path.join(out, "r.xml")
    run(["check", "--driver", "impl:arm-v7s", "--ops", "3", "--jobs", "4", "--junit", xml], 2)
    if os.path.exists(xml):
        fail("a run that ended in an error left its --junit file")


CASES = {f.__name__[len("check_"):]: f for f in [
    check_clean, check_finding, check_mutants, check_prove, check_progress,
    check_progress_items, check_progress_bad_interval, check_options]}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print(f"ok: {sys.argv[1]}")
