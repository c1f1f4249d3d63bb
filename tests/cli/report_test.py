#!/usr/bin/env python3
"""check --report as a person sees it (docs/CLI.md, "Reports").

A short campaign on the seeded-bug plugin writes DIR/index.html; headless Chromium renders it
to its DOM after the scripts ran and to a screenshot (one start of the browser for both). The
DOM must hold every plot drawn (Chart.js painted its canvas: data-rendered) and the finding:
its signature, the trace file's lines, the replay's failing op, the device's walk of its iova.
The screenshot must be a PNG of the window's size that is not blank and shows the plots' colour.

The pages of mutants and diff are read without a browser: a row per mutant, a section per
difference, as their text output lists them, and the plot's data in the page.

Usage: report_test.py check IOMMUCHECK PLUGIN WORKDIR
       report_test.py mutants IOMMUCHECK WORKDIR
       report_test.py diff IOMMUCHECK WORKDIR diff DIFF-ARGS...
       report_test.py coverage IOMMUCHECK WORKDIR check CHECK-ARGS... (with --coverage)
"""
import html
import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 1000  # the top of the page: configuration, summary, first plot
PLOT_BLUE = (0x15, 0x65, 0xC0)  # the plots' colour (cli/report_html.cc)


def fail(why: str) -> None:
    print(f"FAIL: {why}")
    sys.exit(1)


def chromium(page: Path, *args: str) -> str:
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", *args,
                        page.as_uri()], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"chromium exited {r.returncode}:\n{r.stderr}")
    return r.stdout


def png_pixels(path: Path):
    """(width, height, rows of RGB(A) bytes), the rows unfiltered (PNG specification, 9)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    width, height, depth, colour = ihdr[:4]
    if depth != 8 or colour not in (2, 6):
        fail(f"{path}: unexpected PNG depth {depth} colour type {colour}")
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def check_dom(dom: str, out: str, findings: Path) -> None:
    canvases = re.findall(r"<canvas[^>]*>", dom)
    if len(canvases) < 2:
        fail(f"{len(canvases)} canvas elements, expected the ops-per-second and op-mix plots")
    for c in canvases:
        m = re.search(r'data-rendered="(\d+)"', c)
        if not m or int(m.group(1)) < 1:
            fail(f"a plot was not drawn: {c}")
    if f'data-plots="{len(canvases)}"' not in dom:
        fail("the page's script did not finish drawing every plot")
    sig = re.search(r"^found \d+ time\(s\): (.*)$", out, re.M)
    if not sig or html.escape(sig.group(1), quote=False) not in dom:
        fail(f"the finding's signature is not in the page:\n{out}")
    traces = sorted(findings.glob("*.trace"))
    if not traces:
        fail(f"no trace in {findings}")
    ops = [l for l in traces[0].read_text().splitlines() if l and not l.startswith("#")]
    for line in ops:
        if html.escape(line, quote=False) not in dom:
            fail(f"the trace's line `{line}` is not in the page")
    if 'class="failing"' not in dom:
        fail("the replay's failing op is not marked")
    if not re.search(r'<p class="device"><code>walk of 0x[0-9a-f]+: level \d+: descriptor', dom):
        fail("the device's walk of the failing iova is not in the page")
    if "Coverage was not built" not in dom:
        fail("the page does not say that coverage was not built")


def check_screenshot(shot: Path) -> None:
    width, height, bpp, rows = png_pixels(shot)
    if (width, height) != (WIDTH, HEIGHT):
        fail(f"screenshot is {width}x{height}, expected {WIDTH}x{HEIGHT}")
    if len(set(rows)) < 50:
        fail(f"screenshot is blank: {len(set(rows))} distinct rows")
    blue = sum(1 for row in rows for i in range(0, len(row), bpp)
               if tuple(row[i:i + 3]) == PLOT_BLUE)
    if blue < 300:
        fail(f"the screenshot shows no plot: {blue} pixels of the plots' colour")


def run_reported(cli: str, work: Path, code: int, *args: str):
    """Runs `iommucheck ARGS --report WORK/report`: its stdout and the page's text."""
    shutil.rmtree(work, ignore_errors=True)
    report = work / "report"
    r = subprocess.run([cli, *args, "--report", str(report)], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != code and not (code is None and r.returncode in (0, 1)):
        fail(f"{args[0]} exited {r.returncode}, expected {code}:\n{r.stdout}\n{r.stderr}")
    if not r.stdout.splitlines()[-1].startswith("summary: "):
        fail(f"the summary is not stdout's last line:\n{r.stdout}")
    page = report / "index.html"
    if not page.is_file() or (report / "chart.min.js").stat().st_size == 0:
        fail(f"no {page} with its chart.min.js")
    return r.stdout, page


def page_plot(text: str, plot_id: str) -> dict:
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S)
    plots = {p["id"]: p for p in json.loads(data.group(1))["plots"]} if data else {}
    if plot_id not in plots or not plots[plot_id]["data"]:
        fail(f"the page has no data for the plot {plot_id}")
    return plots[plot_id]


def check_command(cli: str, plugin: str, work: Path) -> None:
    findings = work / "findings"
    out, page = run_reported(cli, work, 1, "check", "--driver", f"plugin:{plugin}", "--ops",
                             "2000", "--keep-going", "--out", str(findings))
    shot = work / "report.png"
    dom = chromium(page, "--dump-dom", f"--screenshot={shot}")
    check_dom(dom, out, findings)
    ops = int(re.search(r"^summary: .* ops=(\d+) ", out, re.M).group(1))
    if sum(page_plot(dom, "plot-op-mix")["data"]) != ops:
        fail(f"the op mix does not add up to the {ops} ops the summary counts")
    check_screenshot(shot)
    print(f"ok: {page} rendered, screenshot {shot}")


def mutants_command(cli: str, work: Path) -> None:
    out, page = run_reported(cli, work, 0, "mutants", "--seconds-per", "1")
    rows = re.findall(r"^(\S+) +(killed|SURVIVED) ", out, re.M)
    text = page.read_text()
    if not rows:
        fail(f"no mutant ran:\n{out}")
    for name, result in rows:
        if f"<td>{name}</td><td>{result}</td>" not in text:
            fail(f"mutant {name} ({result}) has no row in the page")
    if page_plot(text, "plot-mutant-seconds")["labels"] != [n for n, _ in rows]:
        fail("the seconds plot does not have one bar per mutant, in the table's order")
    print(f"ok: {page}: {len(rows)} mutants")


def diff_command(cli: str, work: Path, args) -> None:
    out, page = run_reported(cli, work, 1, *args)  # args: diff --kernel ...
    kinds = re.findall(r"^difference \d+: (.*) \(\d+ op\(s\) in", out, re.M)
    text = page.read_text()
    if not kinds:
        fail(f"no difference:\n{out}")
    for kind in kinds:
        if f"<code>{html.escape(kind)}</code></h3>" not in text:
            fail(f"difference `{kind}` has no section in the page")
    if page_plot(text, "plot-differences")["labels"] != kinds:
        fail("the differences plot does not have one bar per difference")
    page_plot(text, "plot-ops-rate")
    print(f"ok: {page}: {len(kinds)} differences")


def coverage_command(cli: str, work: Path, args) -> None:
    """The kernel's findings are not this test's business: exit 0 or 1."""
    out, page = run_reported(cli, work, None, *args)
    text = page.read_text()
    if "Coverage was not built" in text or '"name": "arm_lpae_map_pages"' not in text:
        fail("the page does not hold gcovr's JSON of io-pgtable-arm.c")
    lines = page_plot(text, "plot-coverage-time")["data"]
    if lines[-1] < 1 or lines != sorted(lines):
        fail(f"lines run over time: {lines}, expected a count that never falls, above 0")
    print(f"ok: {page}: lines run over time {lines}")


def main() -> None:
    mode, cli = sys.argv[1], sys.argv[2]
    if mode == "check":
        check_command(cli, sys.argv[3], Path(sys.argv[4]))
    elif mode == "mutants":
        mutants_command(cli, Path(sys.argv[3]))
    elif mode == "coverage":
        coverage_command(cli, Path(sys.argv[3]), sys.argv[4:])
    else:
        diff_command(cli, Path(sys.argv[3]), sys.argv[4:])


main()
