// The report page (cli/report.h): tables and texts as HTML, the plots as Chart.js specs in the
// page's embedded JSON, drawn by the script at its end.
#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "cli/report.h"

namespace iommu::cli {
namespace {

std::string html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// JSON inside a <script> element: "</" would end it; "<\/" is the same JSON string.
std::string script_safe(std::string json) {
  for (size_t at = json.find("</"); at != json.npos; at = json.find("</", at + 3))
    json.replace(at, 2, "<\\/");
  return json;
}

std::string pairs_table(const std::vector<std::pair<std::string, std::string>>& rows,
                        std::string_view cls) {
  std::string out = fmt::format("<table class=\"{}\">\n", cls);
  for (const auto& [k, v] : rows)
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", html(k), html(v));
  return out + "</table>\n";
}

template <class T, class F>
std::string json_array(const std::vector<T>& items, F&& item) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); i++) out += (i ? "," : "") + item(items[i]);
  return out + "]";
}

// One plot: a canvas in the page, its spec in the JSON.
struct Plot {
  std::string id, type, title, x_title, y_title;
  std::vector<std::string> labels = {};
  std::vector<double> values = {};
  std::vector<std::string> colors = {};  // per bar; empty: the default
  bool horizontal = false;
};

std::string plot_json(const Plot& p) {
  return fmt::format(
      R"({{"id":{},"type":{},"title":{},"x":{},"y":{},"horizontal":{},"labels":{},"data":{},)"
      R"("colors":{}}})",
      json_string(p.id), json_string(p.type), json_string(p.title), json_string(p.x_title),
      json_string(p.y_title), p.horizontal,
      json_array(p.labels, [](const std::string& s) { return json_string(s); }),
      json_array(p.values, [](double v) { return fmt::format("{}", v); }),
      json_array(p.colors, [](const std::string& s) { return json_string(s); }));
}

std::string canvas(const Plot& p, int height = 320) {
  return fmt::format(
      "<div class=\"plot\"><canvas id=\"{}\" width=\"1100\" height=\"{}\">"
      "</canvas></div>\n",
      html(p.id), height);
}

// Ops per second between consecutive samples of the progress.
Plot rate_plot(const ReportData& d) {
  Plot p{.id = "plot-ops-rate",
         .type = "line",
         .title = "Ops per second over time",
         .x_title = "seconds",
         .y_title = "ops/s"};
  if (d.timeline.empty()) return p;
  auto [t0, n0] = d.timeline.front();  // a rate needs two samples: from the second on
  for (const auto& [t, n] : d.timeline) {
    if (t <= t0) continue;
    p.labels.push_back(fmt::format("{:.2f}", t));
    p.values.push_back(static_cast<double>(n - n0) / (t - t0));
    t0 = t;
    n0 = n;
  }
  return p;
}

Plot mix_plot(const ReportData& d) {
  Plot p{.id = "plot-op-mix",
         .type = "bar",
         .title = "Op mix (ops run, by kind)",
         .x_title = "op",
         .y_title = "ops"};
  for (const auto& [name, n] : d.op_mix) {
    p.labels.push_back(name);
    p.values.push_back(static_cast<double>(n));
  }
  return p;
}

std::string finding_html(const ReportFinding& f, size_t n) {
  std::string out = fmt::format(
      "<section class=\"finding\" id=\"finding-{}\">\n<h3>Finding {}: <code "
      "class=\"signature\">{}</code>{}</h3>\n<p class=\"message\">{}</p>\n",
      n, n, html(f.signature), f.known ? " (known: in the baseline)" : "", html(f.message));
  out += pairs_table(
      {{"check", f.check}, {"domain", f.domain}, {"seed", fmt::format("{}", f.seed)}}, "kv");
  out += fmt::format("<h4>Minimized trace</h4>\n<pre class=\"trace\">{}</pre>\n", html(f.trace));
  out +=
      "<h4>Replay: the device at each op, up to the failing op</h4>\n<table class=\"replay\">"
      "<tr><th>#</th><th>op</th><th>ref, driver and device outcome</th></tr>\n";
  for (size_t i = 0; i < f.replay.size(); i++) {
    const bool failing = f.failing_op && *f.failing_op == i;
    out += fmt::format("<tr{}><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                       failing ? " class=\"failing\"" : "", i + 1, html(f.replay[i].first),
                       html(f.replay[i].second));
  }
  out += fmt::format("</table>\n<p class=\"verdict\">{}</p>\n", html(f.replay_verdict));
  if (!f.device.empty())
    out += fmt::format(
        "<h4>The device after the failing op</h4>\n<p class=\"device\"><code>{}"
        "</code></p>\n",
        html(f.device));
  return out + "</section>\n";
}

std::string findings_html(const ReportData& d) {
  if (d.findings.empty()) return "<h2>Findings</h2>\n<p>No finding.</p>\n";
  std::string out = fmt::format("<h2>Findings ({})</h2>\n", d.findings.size());
  for (size_t i = 0; i < d.findings.size(); i++) out += finding_html(d.findings[i], i + 1);
  return out;
}

std::string mutant_color(const ReportMutant& m) {
  if (m.result == "killed" || m.result == "clean") return "#2e7d32";
  return m.result == "n/a" ? "#9e9e9e" : "#c62828";
}

std::string mutants_html(const ReportData& d, std::vector<Plot>& plots) {
  if (d.mutants.empty()) return "";
  Plot p{.id = "plot-mutant-seconds",
         .type = "bar",
         .title =
             "Seconds per mutant (green: "
             "killed, red: survived, grey: not applicable)",
         .x_title = "mutant",
         .y_title = "s"};
  size_t killed = 0, survived = 0;
  for (const ReportMutant& m : d.mutants) {
    killed += m.result == "killed";
    survived += m.result == "SURVIVED";
  }
  const std::string head = fmt::format("<h2>Mutants: {} killed, {} survived, {} in all</h2>\n",
                                       killed, survived, d.mutants.size());
  std::string out =
      "<table class=\"mutants\"><tr><th>mutant</th><th>result"
      "</th><th>check</th><th>seconds</th><th>ops</th><th>models</th><th>violation"
      "</th></tr>\n";
  for (const ReportMutant& m : d.mutants) {
    out += fmt::format(
        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{}</td><td>{}</td>"
        "<td><code>{}</code></td></tr>\n",
        m.result == "SURVIVED" ? "survived" : "", html(m.name), html(m.result), html(m.check),
        m.seconds, m.ops, html(m.models), html(m.message));
    p.labels.push_back(m.name);
    p.values.push_back(m.seconds);
    p.colors.push_back(mutant_color(m));
  }
  out += "</table>\n";
  const std::string plot = canvas(p, 360);
  plots.push_back(std::move(p));
  return head + plot + out;
}

std::string differences_html(const ReportData& d, std::vector<Plot>& plots) {
  if (d.differences.empty()) return "";
  Plot p{.id = "plot-differences",
         .type = "bar",
         .title = "Ops that differ, by kind",
         .x_title = "difference",
         .y_title = "ops"};
  std::string out = fmt::format("<h2>Differences ({})</h2>\n", d.differences.size());
  for (size_t i = 0; i < d.differences.size(); i++) {
    const ReportDifference& g = d.differences[i];
    std::string ops;
    for (const std::string& op : g.ops) ops += op + "\n";
    out += fmt::format(
        "<section class=\"difference\"><h3>Difference {}: <code>{}</code></h3>\n<p>{} op(s) in "
        "{} episode(s)</p>\n<h4>Shortest trace ({} ops)</h4><pre class=\"trace\">{}</pre>\n",
        i + 1, html(g.kind), g.ops_differing, g.episodes, g.ops.size(), html(ops));
    out += pairs_table({{"last op on OLD", g.old_side}, {"last op on NEW", g.new_side}}, "kv");
    out += "</section>\n";
    p.labels.push_back(g.kind);
    p.values.push_back(static_cast<double>(g.ops_differing));
  }
  out += canvas(p);
  plots.push_back(std::move(p));
  return out;
}

std::string coverage_html(const ReportData& d, std::vector<Plot>& plots) {
  std::string out = "<h2>Coverage of the driver's source</h2>\n";
  out += fmt::format("<p class=\"coverage-note\">{}</p>\n", html(d.coverage_note));
  if (!d.coverage_built) return out;
  if (!d.coverage_timeline.empty()) {
    Plot p{.id = "plot-coverage-time",
           .type = "line",
           .title = "Lines of the kernel's io-pgtable files run, over time (gcovr samples)",
           .x_title = "seconds",
           .y_title = "lines run"};
    for (const auto& [t, lines] : d.coverage_timeline) {
      p.labels.push_back(fmt::format("{:.2f}", t));
      p.values.push_back(static_cast<double>(lines));
    }
    out += canvas(p);
    plots.push_back(std::move(p));
  }
  return out + "<div id=\"coverage-functions\"></div>\n";
}

constexpr std::string_view kStyle = R"CSS(
body { font-family: sans-serif; margin: 1.5em 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
pre.trace { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; white-space: pre-wrap;
            overflow-wrap: anywhere; }
tr.failing td { background: #ffe0e0; font-weight: bold; }
tr.survived td { background: #ffe0e0; }
td code { white-space: pre-wrap; overflow-wrap: anywhere; }
table.mutants td:first-child { white-space: nowrap; }
.finding, .difference { border-left: 4px solid #c62828; padding-left: 1em; margin: 1em 0; }
.message, .verdict { font-family: monospace; }
.plot { margin: 1em 0; }
)CSS";

// Draws every plot of the JSON, then the coverage per function from gcovr's JSON: each line
// belongs to the function whose first line is the last one before it.
constexpr std::string_view kScript = R"JS(
const data = JSON.parse(document.getElementById('report-data').textContent);
function painted(canvas) {
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
  return n;
}
function plot(spec) {
  const canvas = document.getElementById(spec.id);
  const line = spec.type === 'line';  // x: seconds, spaced as they are
  const points = line ? spec.data.map((y, i) => ({x: Number(spec.labels[i]), y})) : spec.data;
  const dataset = {label: spec.y, data: points, borderColor: '#1565c0',
                   backgroundColor: spec.colors.length ? spec.colors : '#1565c0', pointRadius: 2};
  new Chart(canvas, {
    type: spec.type, data: {labels: line ? undefined : spec.labels, datasets: [dataset]},
    options: {animation: false, responsive: false, indexAxis: spec.horizontal ? 'y' : 'x',
              plugins: {title: {display: true, text: spec.title}, legend: {display: false}},
              scales: {x: Object.assign(line ? {type: 'linear'} : {},
                                        {title: {display: true, text: spec.x}}),
                       y: {title: {display: true, text: spec.y}, beginAtZero: true}}}});
  if (spec.data.length > 0 && painted(canvas) > 0) canvas.dataset.rendered = spec.data.length;
}
function esc(s) {
  const entity = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'};
  return String(s).replace(/[&<>"]/g, c => entity[c]);
}
// The files of the driver that ran: those with a line run (the tree's other io-pgtable files
// are built too, and are listed apart).
function coverageByFunction(gcovr, idle) {
  const rows = [];
  for (const file of gcovr.files || []) {
    if (!(file.lines || []).some(l => l.count > 0)) {
      idle.push(file.file);
      continue;
    }
    const fns = (file.functions || []).slice().sort((a, b) => a.lineno - b.lineno);
    const byFn = fns.map(f => ({file: file.file, name: f.name, calls: f.execution_count,
                                lines: 0, covered: 0}));
    for (const line of file.lines || []) {
      if (line['gcovr/noncode']) continue;
      let i = -1;
      while (i + 1 < fns.length && fns[i + 1].lineno <= line.line_number) i++;
      if (i < 0) continue;
      byFn[i].lines++;
      if (line.count > 0) byFn[i].covered++;
    }
    rows.push(...byFn.filter(f => f.lines > 0));
  }
  return rows;
}
function showCoverage() {
  const box = document.getElementById('coverage-functions');
  if (!box || !data.coverage) return;
  const idle = [];
  const rows = coverageByFunction(data.coverage, idle);
  const canvas = document.createElement('canvas');
  canvas.id = 'plot-coverage-functions';
  canvas.width = 1100;
  canvas.height = Math.max(200, 18 * rows.length + 80);
  box.appendChild(canvas);
  let table = '<table><tr><th>file</th><th>function</th><th>calls</th><th>lines</th></tr>';
  for (const r of rows)
    table += `<tr><td>${esc(r.file)}</td><td>${esc(r.name)}</td><td>${r.calls}</td>` +
             `<td>${r.covered}/${r.lines}</td></tr>`;
  const note = idle.length ? `<p>Built but not run: ${idle.map(esc).join(', ')}.</p>` : '';
  box.insertAdjacentHTML('beforeend', table + '</table>' + note);
  data.plots.push({id: canvas.id, type: 'bar', horizontal: true, x: '% of lines run',
                   y: 'function', title: 'Line coverage per function',
                   labels: rows.map(r => r.name),
                   data: rows.map(r => Math.round(1000 * r.covered / r.lines) / 10),
                   colors: []});
}
showCoverage();
data.plots.forEach(plot);
document.body.dataset.plots = document.querySelectorAll('canvas[data-rendered]').length;
)JS";

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string report_html(const ReportData& d) {
  std::vector<Plot> plots;
  std::string body = fmt::format("<h1>iommucheck {}</h1>\n<h2>Configuration</h2>\n{}",
                                 html(d.title), pairs_table(d.config, "config"));
  if (!d.summary.empty()) body += "<h2>Summary</h2>\n" + pairs_table(d.summary, "summary");
  body += mutants_html(d, plots);
  body += differences_html(d, plots);
  if (d.timeline.size() > 1) {
    plots.push_back(rate_plot(d));
    body += "<h2>Ops per second</h2>\n" + canvas(plots.back());
  }
  if (!d.op_mix.empty()) {
    plots.push_back(mix_plot(d));
    body += "<h2>Op mix</h2>\n" + canvas(plots.back());
  }
  if (d.mutants.empty() && d.differences.empty())
    body += coverage_html(d, plots) + findings_html(d);
  const std::string json =
      fmt::format(R"({{"plots":{},"coverage":{}}})", json_array(plots, plot_json),
                  d.coverage_json.empty() ? std::string("null") : script_safe(d.coverage_json));
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>iommucheck {}"
      "</title>\n<style>{}</style>\n</head><body>\n{}<script id=\"report-data\" "
      "type=\"application/json\">{}</script>\n<script src=\"chart.min.js\"></script>\n"
      "<script>{}</script>\n</body></html>\n",
      html(d.title), kStyle, body, json, kScript);
}

}  // namespace iommu::cli
