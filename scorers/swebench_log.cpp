#include "scorers/swebench_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>

#include "common/error.h"

namespace rbench::swebench {

namespace {

constexpr std::array<std::pair<std::string_view, TestStatus>, 5> status_names{{{"PASSED", TestStatus::passed},
                                                                               {"FAILED", TestStatus::failed},
                                                                               {"SKIPPED", TestStatus::skipped},
                                                                               {"ERROR", TestStatus::error},
                                                                               {"XFAIL", TestStatus::xfail}}};

constexpr std::array<std::pair<std::string_view, LogParser>, 7> parser_names{
    {{"pytest", LogParser::pytest},
     {"pytest_options", LogParser::pytest_options},
     {"pytest_v2", LogParser::pytest_v2},
     {"django", LogParser::django},
     {"sympy", LogParser::sympy},
     {"matplotlib", LogParser::matplotlib},
     {"seaborn", LogParser::seaborn}}};

// MAP_REPO_TO_PARSER_PY; every repository not named here uses the plain pytest parser.
constexpr std::array<std::pair<std::string_view, LogParser>, 10> repository_parsers{
    {{"django/django", LogParser::django},
     {"sympy/sympy", LogParser::sympy},
     {"matplotlib/matplotlib", LogParser::matplotlib},
     {"mwaskom/seaborn", LogParser::seaborn},
     {"pydicom/pydicom", LogParser::pytest_options},
     {"psf/requests", LogParser::pytest_options},
     {"pylint-dev/pylint", LogParser::pytest_options},
     {"astropy/astropy", LogParser::pytest_v2},
     {"scikit-learn/scikit-learn", LogParser::pytest_v2},
     {"sphinx-doc/sphinx", LogParser::pytest_v2}}};

std::optional<TestStatus> status_from_name(std::string_view name) {
  for (const auto& [text, status] : status_names) {
    if (text == name) return status;
  }
  return std::nullopt;
}

// Python's str.split("\n").
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Python's str.split() with no argument.
std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::string_view strip(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t start = 0;
  for (size_t at = text.find(from); at != std::string_view::npos; at = text.find(from, start)) {
    out.append(text.substr(start, at - start)).append(to);
    start = at + from.size();
  }
  out.append(text.substr(start));
  return out;
}

// "[3]" at the start of a "SKIPPED [3] file.py:12: reason" summary.
bool starts_with_skip_count(std::string_view word) {
  if (word.size() < 3 || word[0] != '[') return false;
  size_t i = 1;
  while (i < word.size() && std::isdigit(static_cast<unsigned char>(word[i]))) ++i;
  return i > 1 && i < word.size() && word[i] == ']';
}

struct ParsedLine {
  std::string id;
  TestStatus status;
};

// A pytest short-summary line: it starts with a status word and names the test next. A FAILED line's
// " - message" tail goes first, as SWE-bench does.
std::optional<ParsedLine> parse_status_first(std::string_view line) {
  const auto words = split_words(line);
  if (words.size() < 2 || is_space(line.front())) return std::nullopt;
  const auto status = status_from_name(words[0]);
  if (!status) return std::nullopt;
  if (*status == TestStatus::failed) {
    const std::string without_dashes = replace_all(line, " - ", " ");
    return ParsedLine{std::string(split_words(without_dashes)[1]), *status};
  }
  if (*status == TestStatus::skipped && starts_with_skip_count(words[1])) return std::nullopt;
  return ParsedLine{std::string(words[1]), *status};
}

// Old pytest's verbose lines "path::test PASSED".
std::optional<ParsedLine> parse_status_last(std::string_view line) {
  const auto words = split_words(line);
  if (words.size() < 2) return std::nullopt;
  const auto status = status_from_name(words[1]);
  const bool ends_with_status = std::any_of(status_names.begin(), status_names.end(),
                                            [&](const auto& entry) { return line.ends_with(entry.first); });
  if (!status || !ends_with_status) return std::nullopt;
  return ParsedLine{std::string(words[0]), *status};
}

StatusMap parse_pytest(std::string_view log) {
  StatusMap statuses;
  for (const auto line : split_lines(log)) {
    if (auto parsed = parse_status_first(line)) statuses[parsed->id] = parsed->status;
  }
  return statuses;
}

// test[/tmp/pytest-7/a.txt] -> test[/a.txt]: a temporary path differs from run to run, its file name does not.
std::string normalize_path_option(const std::string& id) {
  const size_t open = id.find('[');
  const size_t close = id.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return id;
  std::string option = id.substr(open + 1, close - open - 1);
  if (option.starts_with('/') && !option.starts_with("//") && option.find('*') == std::string::npos) {
    option = "/" + option.substr(option.rfind('/') + 1);
  }
  return id.substr(0, open) + "[" + option + "]";
}

StatusMap parse_pytest_options(std::string_view log) {
  StatusMap statuses;
  for (const auto line : split_lines(log)) {
    if (auto parsed = parse_status_first(line)) statuses[normalize_path_option(parsed->id)] = parsed->status;
  }
  return statuses;
}

// Colour codes ("[32m", with or without the escape byte) and every control character 1-31 go.
std::string without_colours(std::string_view line) {
  static const std::regex colour_code(R"(\[\d+m)");
  const std::string uncoloured = std::regex_replace(std::string(line), colour_code, "");
  std::string out;
  std::copy_if(uncoloured.begin(), uncoloured.end(), std::back_inserter(out),
               [](char c) { return static_cast<unsigned char>(c) >= 32 || c == 0; });
  return out;
}

StatusMap parse_pytest_v2(std::string_view log) {
  StatusMap statuses;
  for (const auto raw : split_lines(log)) {
    const std::string line = without_colours(raw);
    auto parsed = parse_status_first(line);
    if (!parsed) parsed = parse_status_last(line);
    if (parsed) statuses[parsed->id] = parsed->status;
  }
  return statuses;
}

StatusMap parse_matplotlib(std::string_view log) {
  StatusMap statuses;
  for (const auto raw : split_lines(log)) {
    const std::string line = replace_all(replace_all(raw, "MouseButton.LEFT", "1"), "MouseButton.RIGHT", "3");
    if (auto parsed = parse_status_first(line)) statuses[parsed->id] = parsed->status;
  }
  return statuses;
}

StatusMap parse_seaborn(std::string_view log) {
  StatusMap statuses;
  for (const auto line : split_lines(log)) {
    const auto words = split_words(line);
    if (words.size() < 2) continue;
    if (line.starts_with("FAILED")) {
      statuses[std::string(words[1])] = TestStatus::failed;
    } else if (line.find(" PASSED ") != std::string_view::npos) {
      if (words[1] == "PASSED") statuses[std::string(words[0])] = TestStatus::passed;
    } else if (line.starts_with("PASSED")) {
      statuses[std::string(words[1])] = TestStatus::passed;
    }
  }
  return statuses;
}

std::string before(std::string_view line, std::string_view marker) {
  return std::string(line.substr(0, line.find(marker)));
}

StatusMap parse_django(std::string_view log) {
  static constexpr std::array<std::string_view, 3> pass_suffixes{" ... ok", " ... OK", " ...  OK"};
  StatusMap statuses;
  std::optional<std::string> previous_test;  // the last "name ... " seen: its "ok" may come lines later
  for (const auto raw : split_lines(log)) {
    std::string line(strip(raw));
    if (line.find("--version is equivalent to version") != std::string::npos) {
      statuses["--version is equivalent to version"] = TestStatus::passed;  // its output spans lines
    }
    if (line.find(" ... ") != std::string::npos) previous_test = before(line, " ... ");
    for (const auto suffix : pass_suffixes) {
      if (!line.ends_with(suffix)) continue;
      // SWE-bench's fix for django__django-7188, where a migration message shares the test's line.
      if (line.starts_with("Applying sites.0002_alter_domain_unique...test_no_migrations")) {
        line = std::string(strip(std::string_view(line).substr(line.find("...") + 3)));
      }
      statuses[line.substr(0, line.rfind(suffix))] = TestStatus::passed;
      break;
    }
    if (line.find(" ... skipped") != std::string::npos) statuses[before(line, " ... skipped")] = TestStatus::skipped;
    if (line.ends_with(" ... FAIL")) statuses[before(line, " ... FAIL")] = TestStatus::failed;
    if (line.ends_with(" ... ERROR")) statuses[before(line, " ... ERROR")] = TestStatus::error;
    const auto words = split_words(line);
    if (line.starts_with("FAIL:") && words.size() > 1) statuses[std::string(words[1])] = TestStatus::failed;
    if (line.starts_with("ERROR:") && words.size() > 1) statuses[std::string(words[1])] = TestStatus::error;
    if (line.starts_with("ok") && previous_test) statuses[*previous_test] = TestStatus::passed;
  }
  return statuses;
}

StatusMap parse_sympy(std::string_view log) {
  static const std::regex failure_header(R"((_*) (.*)\.py:(.*) (_*))");
  StatusMap statuses;
  const auto lines = split_lines(log);
  for (const auto line : lines) {
    const std::string text(line);
    for (std::sregex_iterator match(text.begin(), text.end(), failure_header), end; match != end; ++match) {
      statuses[(*match)[2].str() + ".py:" + (*match)[3].str()] = TestStatus::failed;
    }
  }
  for (const auto raw : lines) {
    const std::string_view line = strip(raw);
    if (!line.starts_with("test_")) continue;
    const std::string id(split_words(line)[0]);
    if (line.ends_with(" E")) statuses[id] = TestStatus::error;
    if (line.ends_with(" F")) statuses[id] = TestStatus::failed;
    if (line.ends_with(" ok")) statuses[id] = TestStatus::passed;
  }
  return statuses;
}

// The status of a listed test: its own, or for an id cut short inside its parameters ("test[a" of
// "test[a b]") the one status shared by every id it starts.
std::optional<TestStatus> status_of(const StatusMap& statuses, const std::string& test) {
  if (const auto found = statuses.find(test); found != statuses.end()) return found->second;
  if (test.find('[') == std::string::npos || test.ends_with(']')) return std::nullopt;
  std::optional<TestStatus> shared;
  for (auto it = statuses.lower_bound(test); it != statuses.end() && it->first.starts_with(test); ++it) {
    if (shared && *shared != it->second) return std::nullopt;
    shared = it->second;
  }
  return shared;
}

bool passed(std::optional<TestStatus> status) { return status == TestStatus::passed || status == TestStatus::xfail; }

}  // namespace

const char* test_status_name(TestStatus status) {
  for (const auto& [text, value] : status_names) {
    if (value == status) return text.data();
  }
  return "UNKNOWN";
}

const char* log_parser_name(LogParser parser) {
  for (const auto& [text, value] : parser_names) {
    if (value == parser) return text.data();
  }
  return "unknown";
}

LogParser parse_log_parser_name(std::string_view name) {
  std::string known;
  for (const auto& [text, value] : parser_names) {
    if (text == name) return value;
    known += known.empty() ? std::string(text) : ", " + std::string(text);
  }
  throw UserError(fmt::format("unknown SWE-bench log parser '{}'; known parsers: {}", name, known));
}

LogParser log_parser_for_repository(std::string_view repository) {
  for (const auto& [name, parser] : repository_parsers) {
    if (name == repository) return parser;
  }
  return LogParser::pytest;
}

StatusMap parse_test_log(LogParser parser, std::string_view log) {
  switch (parser) {
    case LogParser::pytest: return parse_pytest(log);
    case LogParser::pytest_options: return parse_pytest_options(log);
    case LogParser::pytest_v2: return parse_pytest_v2(log);
    case LogParser::django: return parse_django(log);
    case LogParser::sympy: return parse_sympy(log);
    case LogParser::matplotlib: return parse_matplotlib(log);
    case LogParser::seaborn: return parse_seaborn(log);
  }
  return {};
}

std::optional<std::string> invalid_log_reason(const StatusMap& statuses, int exit_code) {
  if (statuses.empty()) return "the test output holds no per-test results: the test suite did not run";
  const bool reports_failure = std::any_of(statuses.begin(), statuses.end(), [](const auto& entry) {
    return entry.second == TestStatus::failed || entry.second == TestStatus::error;
  });
  if (exit_code != 0 && !reports_failure) {
    return fmt::format(
        "the test command exited with {} but its output reports no FAILED or ERROR test: the per-test lines "
        "are not evidence (a patch can print them, e.g. from a conftest.py hook)",
        exit_code);
  }
  return std::nullopt;
}

double TestGroupReport::rate() const {
  const size_t total = passed.size() + failed.size();
  return total == 0 ? 1.0 : static_cast<double>(passed.size()) / static_cast<double>(total);
}

TestsReport grade_tests(const StatusMap& statuses, const std::vector<std::string>& fail_to_pass,
                        const std::vector<std::string>& pass_to_pass) {
  TestsReport report;
  for (const auto& test : fail_to_pass) {
    (passed(status_of(statuses, test)) ? report.fail_to_pass.passed : report.fail_to_pass.failed).push_back(test);
  }
  for (const auto& test : pass_to_pass) {
    const auto status = status_of(statuses, test);
    const bool maintained = passed(status) || status == TestStatus::skipped;
    (maintained ? report.pass_to_pass.passed : report.pass_to_pass.failed).push_back(test);
  }
  return report;
}

Resolution resolution(const TestsReport& report) {
  const double fail_to_pass = report.fail_to_pass.rate();
  const double pass_to_pass = report.pass_to_pass.rate();
  if (fail_to_pass == 1.0 && pass_to_pass == 1.0) return Resolution::full;
  if (fail_to_pass > 0.0 && fail_to_pass < 1.0 && pass_to_pass == 1.0) return Resolution::partial;
  return Resolution::no;
}

}  // namespace rbench::swebench
