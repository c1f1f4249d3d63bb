#include "cli/results.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/text.h"
#include "cli/version.h"
#include "conform/mutants.h"

namespace iommu::cli {
namespace {

using Json = nlohmann::ordered_json;

// The length of the UTF-8 character at s[i], or 0 when the bytes there are not one (overlong
// forms, surrogates and the non-characters U+FFFE/U+FFFF included: XML refuses them).
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return 1;
  const size_t n = b >= 0xc2 && b < 0xe0   ? 2
                   : b >= 0xe0 && b < 0xf0 ? 3
                   : b >= 0xf0 && b < 0xf5 ? 4
                                           : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if ((b == 0xe0 && b1 < 0xa0) || (b == 0xed && b1 >= 0xa0) || (b == 0xf0 && b1 < 0x90) ||
      (b == 0xf4 && b1 >= 0x90))
    return 0;
  if (b == 0xef && b1 == 0xbf && static_cast<unsigned char>(s[i + 2]) >= 0xbe) return 0;
  return n;
}

size_t count(const Results& r, Verdict v) {
  size_t n = 0;
  for (const ResultCase& c : r.cases) n += c.verdict == v;
  return n;
}

double total_seconds(const Results& r) {
  double s = 0;
  for (const ResultCase& c : r.cases) s += c.seconds;
  return s;
}

std::string value_text(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return x;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        if constexpr (std::is_same_v<T, double>) return fmt::format("{:.3f}", x);
        if constexpr (std::is_same_v<T, uint64_t>) return fmt::format("{}", x);
      },
      v);
}

// What a finding says in a report's text: its message, where its trace is, how often it was seen.
std::vector<std::string> finding_lines(const ResultFinding& f) {
  std::vector<std::string> lines{
      fmt::format("{}{}", f.known ? "known: " : "VIOLATION: ", f.message)};
  if (!f.trace.empty())
    lines.push_back(fmt::format("trace ({} ops{}): {}", f.trace_ops,
                                f.minimized ? "" : ", not minimized", f.trace));
  if (!f.signature.empty())
    lines.push_back(fmt::format("found {} time(s): {}", f.occurrences, f.signature));
  return lines;
}

std::vector<std::string> case_lines(const ResultCase& c) {
  std::vector<std::string> lines;
  for (const ResultFinding& f : c.findings)
    for (std::string& l : finding_lines(f)) lines.push_back(std::move(l));
  lines.insert(lines.end(), c.log.begin(), c.log.end());
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

// A KTAP test description: one line without '#', which would start a directive.
std::string ktap_name(const std::string& name) {
  std::string out = printable(name);
  for (char& c : out)
    if (c == '#') c = '_';
  return out;
}

Json to_json(const Value& v) {
  return std::visit([](const auto& x) { return Json(x); }, v);
}

Json to_json(const Fields& fields) {
  Json j = Json::object();
  for (const auto& [k, v] : fields) j[k] = to_json(v);
  return j;
}

void put_line(std::FILE* out, const Json& j) {
  // A driver's bytes that are not UTF-8 become U+FFFD rather than an exception.
  fmt::print(out, "{}\n", j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kFail: return "fail";
    case Verdict::kSkip: return "skip";
  }
  return "?";
}

}  // namespace

ResultCase mutant_case(std::string_view name, std::string_view models, const conform::MutantKill& k,
                       bool unmutated, const std::string& trace) {
  ResultCase c{.name = std::string(name),
               .seconds = k.seconds,
               .log = {std::string(models)},
               .fields = {{"ops", uint64_t{k.ops}}, {"killed", k.killed}}};
  if (k.killed)
    c.findings.push_back(
        {.check = k.check, .message = k.violation, .trace = trace, .trace_ops = k.trace_ops});
  if (k.killed == unmutated) {
    c.verdict = Verdict::kFail;
    c.message = unmutated ? fmt::format("killed on the unmutated code: {}", k.violation)
                          : fmt::format("survived {} ops in {:.1f}s", k.ops, k.seconds);
  }
  return c;
}

Fields mutants_summary(uint64_t run, uint64_t killed) {
  return {{"mutants", run}, {"killed", killed}, {"survived", run - killed}};
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto u = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_length(text, i);
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    i++;
    if (n == 0 || (u < 0x20 && u != '\t' && u != '\n' && u != '\r') || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
      continue;
    }
    switch (u) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      // As character references, so that attribute values keep their line breaks.
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += "&#9;"; break;
      default: out += static_cast<char>(u);
    }
  }
  return out;
}

// The schema GitLab, Jenkins and GitHub's reporters read: testsuites > testsuite > testcase,
// a failed testcase with one <failure>, a skipped one with <skipped>.
void write_junit(const Results& r, std::FILE* out) {
  const size_t tests = r.cases.size(), failures = count(r, Verdict::kFail),
               skipped = count(r, Verdict::kSkip);
  const double seconds = total_seconds(r);
  const std::string suite = xml_escape(r.suite);
  fmt::print(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fmt::print(out,
             "<testsuites name=\"iommucheck {}\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
             "skipped=\"{}\" time=\"{:.3f}\">\n",
             xml_escape(r.command), tests, failures, skipped, seconds);
  fmt::print(out,
             "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
             "time=\"{:.3f}\" timestamp=\"{}\">\n",
             suite, tests, failures, skipped, seconds, utc_now());
  fmt::print(out, "    <properties>\n");
  for (const auto& [k, v] : r.config)
    fmt::print(out, "      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(k),
               xml_escape(value_text(v)));
  fmt::print(out, "    </properties>\n");
  for (const ResultCase& c : r.cases) {
    fmt::print(out, "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\">\n",
               xml_escape(c.name), suite, c.seconds);
    const std::string text = xml_escape(joined(case_lines(c)));
    if (c.verdict == Verdict::kFail) {
      const std::string type = c.findings.empty() ? r.command : c.findings.front().check;
      fmt::print(out, "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                 xml_escape(c.message), xml_escape(type), text);
    } else {
      if (c.verdict == Verdict::kSkip)
        fmt::print(out, "      <skipped message=\"{}\"/>\n", xml_escape(c.message));
      if (!text.empty()) fmt::print(out, "      <system-out>{}</system-out>\n", text);
    }
    fmt::print(out, "    </testcase>\n");
  }
  fmt::print(out, "  </testsuite>\n</testsuites>\n");
}

// KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst): one test per case, its
// findings and log as the diagnostic lines just before its result line.
void write_ktap(const Results& r, std::FILE* out) {
  fmt::print(out, "KTAP version 1\n1..{}\n", r.cases.size());
  std::string config;
  for (const auto& [k, v] : r.config) config += fmt::format(" {}={}", k, value_text(v));
  fmt::print(out, "# {}:{}\n", printable(r.suite), printable(config));
  for (size_t i = 0; i < r.cases.size(); i++) {
    const ResultCase& c = r.cases[i];
    for (const std::string& l : case_lines(c)) fmt::print(out, "# {}\n", printable(l));
    if (c.verdict == Verdict::kFail && c.findings.empty() && !c.message.empty())
      fmt::print(out, "# {}: {}\n", ktap_name(c.name), printable(c.message));
    const char* result = c.verdict == Verdict::kFail ? "not ok" : "ok";
    const std::string skip =
        c.verdict == Verdict::kSkip ? fmt::format(" # SKIP {}", printable(c.message)) : "";
    fmt::print(out, "{} {} {}{}\n", result, i + 1, ktap_name(c.name), skip);
  }
  std::string summary;
  for (const auto& [k, v] : r.summary) summary += fmt::format(" {}={}", k, value_text(v));
  fmt::print(out, "# {}: pass:{} fail:{} skip:{} total:{}{}\n", printable(r.suite),
             count(r, Verdict::kPass), count(r, Verdict::kFail), count(r, Verdict::kSkip),
             r.cases.size(), printable(summary));
}

// JSON lines: a "run" record, then each "case" and each "finding", then the "summary".
void write_json(const Results& r, std::FILE* out) {
  put_line(out, Json{{"type", "run"},
                     {"tool", "iommucheck"},
                     {"version", kVersion},
                     {"command", r.command},
                     {"suite", r.suite},
                     {"config", to_json(r.config)}});
  for (const ResultCase& c : r.cases) {
    Json j{{"type", "case"},       {"name", c.name},       {"verdict", verdict_name(c.verdict)},
           {"seconds", c.seconds}, {"message", c.message}, {"findings", c.findings.size()},
           {"log", c.log}};
    for (const auto& [k, v] : c.fields) j[k] = to_json(v);
    put_line(out, j);
    for (const ResultFinding& f : c.findings)
      put_line(out, Json{{"type", "finding"},
                         {"case", c.name},
                         {"signature", f.signature},
                         {"check", f.check},
                         {"op", f.op ? Json(*f.op) : Json(nullptr)},
                         {"message", f.message},
                         {"trace", f.trace.empty() ? Json(nullptr) : Json(f.trace)},
                         {"trace_ops", f.trace_ops},
                         {"minimized", f.minimized},
                         {"seed", f.seed},
                         {"known", f.known},
                         {"occurrences", f.occurrences}});
  }
  Json s{{"type", "summary"},
         {"command", r.command},
         {"tests", r.cases.size()},
         {"passed", count(r, Verdict::kPass)},
         {"failed", count(r, Verdict::kFail)},
         {"skipped", count(r, Verdict::kSkip)},
         {"exit_code", r.exit_code}};
  for (const auto& [k, v] : r.summary) s[k] = to_json(v);
  put_line(out, s);
}

void add_results_options(CLI::App* cmd, ResultsOptions& o) {
  cmd->add_option("--junit", o.junit,
                  "Write the results as JUnit XML to FILE ('-': stdout), for GitLab, Jenkins "
                  "and GitHub test reports")
      ->type_name("FILE");
  cmd->add_option("--ktap", o.ktap,
                  "Write the results as KTAP (the kernel's test format) to FILE, or to stdout "
                  "without FILE")
      ->expected(0, 1)
      ->default_str("-")
      ->type_name("[FILE]");
  cmd->add_option("--json", o.json,
                  "Write the configuration, each case and finding, and the summary as JSON "
                  "lines to FILE, or to stdout without FILE")
      ->expected(0, 1)
      ->default_str("-")
      ->type_name("[FILE]");
}

ResultsOutput::ResultsOutput(const ResultsOptions& o) {
  try {
    open(o);
  } catch (...) {
    close();  // what was opened before the error, stdout too
    throw;
  }
}

void ResultsOutput::open(const ResultsOptions& o) {
  const std::pair<const char*, Target> asked[] = {{"--junit", {o.junit, nullptr, write_junit}},
                                                  {"--ktap", {o.ktap, nullptr, write_ktap}},
                                                  {"--json", {o.json, nullptr, write_json}}};
  std::vector<std::pair<const char*, Target>> wanted;
  for (const auto& a : asked) {
    if (a.second.path.empty()) continue;
    for (const auto& w : wanted)
      if (w.second.path == a.second.path)
        throw UsageError(fmt::format("{} and {} both write to {}: give each its own file", w.first,
                                     a.first, a.second.path == "-" ? "stdout" : a.second.path));
    wanted.push_back(a);
  }
  for (auto& [option, t] : wanted) {
    if (t.path == "-") {
      std::fflush(stdout);
      const int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
      t.file = fd < 0 ? nullptr : fdopen(fd, "w");
      if (t.file == nullptr)
        throw UsageError(
            fmt::format("{}: cannot take over stdout: {}", option, std::strerror(errno)));
      targets_.push_back(t);
      if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        throw UsageError(
            fmt::format("{}: cannot take over stdout: {}", option, std::strerror(errno)));
      continue;
    } else {
      t.file = std::fopen(t.path.c_str(), "we");
      if (t.file == nullptr)
        throw UsageError(fmt::format("{} {}: {}", option, t.path, std::strerror(errno)));
    }
    targets_.push_back(t);
  }
}

ResultsOutput::~ResultsOutput() { close(); }

void ResultsOutput::close() {
  std::fflush(stdout);
  for (Target& t : targets_) {
    if (t.path == "-") {
      std::fflush(t.file);
      dup2(fileno(t.file), STDOUT_FILENO);  // stdout is stdout again
    }
    std::fclose(t.file);
    if (!written_ && t.path != "-") std::remove(t.path.c_str());
  }
  targets_.clear();
}

int ResultsOutput::write(const Results& r) {
  std::fflush(stdout);  // the text report ends before the results begin
  written_ = true;
  bool ok = true;
  for (Target& t : targets_) {
    t.format(r, t.file);
    if (std::fflush(t.file) != 0 || std::ferror(t.file)) {
      fmt::print(stderr, "iommucheck: writing the results to {} failed: {}\n",
                 t.path == "-" ? "stdout" : t.path, std::strerror(errno));
      ok = false;
    }
  }
  return ok ? r.exit_code : kExitUsage;
}

}  // namespace iommu::cli
