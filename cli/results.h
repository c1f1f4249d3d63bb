// What `check`, `mutants` and `prove` found, in the forms CI systems read (docs/CLI.md,
// "Results for CI"): JUnit XML (--junit FILE), KTAP (--ktap [FILE]) and JSON lines
// (--json [FILE]). Each command fills one Results as it runs; the writers only format it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace CLI {
class App;
}
namespace iommu::conform {
struct MutantKill;
}

namespace iommu::cli {

// A configuration or summary value: a JSON string, number or boolean, a JUnit property.
using Value = std::variant<std::string, uint64_t, double, bool>;
using Fields = std::vector<std::pair<std::string, Value>>;

struct ResultFinding {
  std::string signature{};       // what makes two findings the same (docs/CHECKER.md); may be empty
  std::string check{};           // the check or rule that failed
  std::optional<uint64_t> op{};  // the failing op's number in the trace, from 1 (as replay counts)
  std::string message{};         // as the VIOLATION line says it
  std::string trace{};           // the (minimized) trace's path; empty: none was written
  uint64_t trace_ops = 0;
  bool minimized = true;
  uint64_t seed = 0;   // the seed of the run that found it
  bool known = false;  // listed in --baseline: reported, not a violation
  uint64_t occurrences = 1;
};

enum class Verdict { kPass, kFail, kSkip };

// One testcase: a name that stays the same from run to run (a domain, a mutant, a property).
struct ResultCase {
  std::string name{};
  Verdict verdict = Verdict::kPass;
  double seconds = 0;
  std::string message{};           // why it failed or was skipped: one line
  std::vector<std::string> log{};  // more lines a person needs (counts, trace paths, models)
  std::vector<ResultFinding> findings{};
  Fields fields{};  // its numbers (ops, ops_per_s, ...)
};

struct Results {
  std::string command{};  // check, mutants or prove
  std::string suite{};    // e.g. "check impl:arm-64-lpae-s1-4k"
  Fields config{};        // what the run was asked to do
  std::vector<ResultCase> cases{};
  Fields summary{};  // the summary line's numbers
  int exit_code = 0;
};

// A mutant's case: killed passes (a check caught the seeded bug), surviving fails; for a
// control run on the unmutated code (`unmutated`), the other way round. `trace`: where the
// kill's trace was written, if it was.
ResultCase mutant_case(std::string_view name, std::string_view models, const conform::MutantKill& k,
                       bool unmutated = false, const std::string& trace = "");

// The summary numbers of every mutants table: mutants, killed, survived.
Fields mutants_summary(uint64_t run, uint64_t killed);

void write_junit(const Results& r, std::FILE* out);
void write_ktap(const Results& r, std::FILE* out);
void write_json(const Results& r, std::FILE* out);

// XML text or attribute content: markup characters as entities, control characters (which
// XML 1.0 cannot carry) and bytes that are not UTF-8 as \xNN.
std::string xml_escape(std::string_view text);

// File names of the three formats; "-": stdout; empty: not written.
struct ResultsOptions {
  std::string junit, ktap, json;
};

// Adds --junit FILE, --ktap [FILE] and --json [FILE] (no FILE: stdout) to a command.
void add_results_options(CLI::App* cmd, ResultsOptions& o);

// Where the formats go, opened before the run so that a path that cannot be written is a usage
// error then rather than after an hour's campaign. When a format takes stdout, file descriptor
// 1 becomes a copy of stderr until the end: the text report, the progress and anything a driver
// prints go there, and stdout carries that format alone.
class ResultsOutput {
 public:
  explicit ResultsOutput(const ResultsOptions& o);  // throws UsageError
  ~ResultsOutput();  // removes files nothing was written to (the run ended in an error)
  ResultsOutput(const ResultsOutput&) = delete;
  ResultsOutput& operator=(const ResultsOutput&) = delete;

  // Writes every format asked for; returns r.exit_code.
  int write(const Results& r);
  bool active() const { return !targets_.empty(); }  // whether any format was asked for

 private:
  struct Target {
    std::string path;  // "-": stdout
    std::FILE* file = nullptr;
    void (*format)(const Results&, std::FILE*) = nullptr;
  };
  void open(const ResultsOptions& o);
  void close();
  std::vector<Target> targets_;
  bool written_ = false;
};

}  // namespace iommu::cli
