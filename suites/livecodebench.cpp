#include "suites/livecodebench.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "common/cache.h"
#include "common/error.h"
#include "common/hash.h"
#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/hub.h"
#include "suites/jsonl.h"
#include "suites/loaded_suite.h"
#include "suites/pickle.h"

namespace rbench {

namespace fs = std::filesystem;

namespace {

// lcb_runner/prompts/code_generation.py, folded into one user message as QwQ and lighteval do.
constexpr const char* kQuestionPreamble =
    "You will be given a question (problem specification) and will generate a correct Python program that matches "
    "the specification and passes all tests.\n\nQuestion: ";
constexpr const char* kStarterCodeFormat =
    "You will use the following starter code to write the solution to the problem and enclose your code within "
    "delimiters.";
constexpr const char* kStdinFormat =
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample "
    "inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the "
    "inputs, runs the algorithm and writes output to STDOUT.";
constexpr const char* kNoStarterCode = "# YOUR CODE HERE";

constexpr const char* kQwqFile = "livecodebench_v5_qwq.jsonl";
constexpr const char* kHubRepo = "livecodebench/code_generation_lite";
constexpr const char* kLocalTestsFolder = "code_generation_lite";
// The release files holding contests of the window, and the window itself ([start, end) on contest_date).
constexpr std::array<const char*, 3> kWindowFiles = {"test3.jsonl", "test4.jsonl", "test5.jsonl"};
constexpr std::string_view kWindowStart = "2024-08-01";
constexpr std::string_view kWindowEnd = "2025-02-01";

// ----------------------------------------------------------------------------------------------------
// base64(zlib(pickle(json)))

std::string decode_base64(std::string_view text) {
  static const std::array<int, 256> kValues = [] {
    std::array<int, 256> values{};
    values.fill(-1);
    const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i) values[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    return values;
  }();
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') break;
    if (c == '\n' || c == '\r' || c == ' ') continue;
    const int value = kValues[static_cast<unsigned char>(c)];
    if (value < 0) throw UserError(fmt::format("base64: invalid character 0x{:02x}", static_cast<unsigned char>(c)));
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return bytes;
}

std::string inflate_zlib(std::string_view compressed) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw std::runtime_error("zlib: inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  std::array<char, 1 << 16> chunk{};
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // input ended before the stream did
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) throw UserError(fmt::format("zlib: corrupt or truncated data (status {})", status));
  return out;
}

// ----------------------------------------------------------------------------------------------------
// QwQ's file: the prompt, taken apart into question and starter code

struct PromptParts {
  std::string question;
  std::string starter_code;
};

std::optional<PromptParts> split_prompt(std::string_view prompt) {
  if (!prompt.starts_with(kQuestionPreamble)) return std::nullopt;
  const std::string_view body = prompt.substr(std::string_view(kQuestionPreamble).size());
  const std::string stdin_tail = fmt::format("\n\n{}\n```python\n{}\n```\n\n", kStdinFormat, kNoStarterCode);
  const std::string starter_head = fmt::format("\n\n{}\n```python\n", kStarterCodeFormat);
  constexpr std::string_view kStarterTail = "\n```\n\n";
  PromptParts parts;
  if (body.ends_with(stdin_tail)) {
    parts.question = body.substr(0, body.size() - stdin_tail.size());
  } else if (const size_t head = body.rfind(starter_head);
             head != std::string_view::npos && body.ends_with(kStarterTail)) {
    parts.question = body.substr(0, head);
    const size_t code_start = head + starter_head.size();
    if (code_start + kStarterTail.size() > body.size()) return std::nullopt;
    parts.starter_code = body.substr(code_start, body.size() - kStarterTail.size() - code_start);
  } else {
    return std::nullopt;
  }
  // Only a prompt that the template rebuilds byte for byte is taken as this template.
  if (livecodebench_prompt(parts.question, parts.starter_code) != prompt) return std::nullopt;
  return parts;
}

std::string platform_of_contest(const std::string& contest_id) {
  if (contest_id.starts_with("abc") || contest_id.starts_with("arc") || contest_id.starts_with("agc")) return "atcoder";
  if (contest_id.starts_with("weekly-contest") || contest_id.starts_with("biweekly-contest")) return "leetcode";
  return "codeforces";
}

std::string method_name_of_starter_code(const std::string& starter_code) {
  static const std::regex kMethod(R"(def\s+(\w+)\s*\(\s*self)");
  std::string name;
  for (std::sregex_iterator it(starter_code.begin(), starter_code.end(), kMethod), end; it != end; ++it) {
    name = (*it)[1];
  }
  return name;
}

// The fields QwQ's file and code_generation_lite share.
nlohmann::json base_metadata(const std::string& question_id, const std::string& contest_id,
                             const std::string& contest_date, const std::string& platform,
                             const std::string& starter_code) {
  return {{"question_id", question_id},   {"contest_id", contest_id},
          {"contest_date", contest_date}, {"release_date", contest_date.substr(0, 10)},
          {"platform", platform},         {"cluster", contest_id},
          {"starter_code", starter_code}, {"test_format", "livecodebench"}};
}

Problem problem_from_qwq(const JsonRecord& record) {
  const auto parts = split_prompt(record.string("prompt"));
  if (!parts) record.fail("prompt", "is not in the LiveCodeBench prompt form (question, then format instruction)");
  Problem problem;
  problem.id = record.string("question_id");
  problem.question = parts->question;
  const std::string contest_id = record.string("contest_id");
  problem.metadata = base_metadata(problem.id, contest_id, record.string("contest_date"),
                                   platform_of_contest(contest_id), parts->starter_code);
  if (!parts->starter_code.empty()) problem.metadata["func_name"] = method_name_of_starter_code(parts->starter_code);
  return problem;
}

// ----------------------------------------------------------------------------------------------------
// code_generation_lite: problems with their tests

nlohmann::json decode_tests_field(const JsonRecord& record, std::string_view field) {
  try {
    return decode_livecodebench_tests(record.string(field));
  } catch (const UserError& error) {
    record.fail(field, fmt::format("cannot be decoded: {}", error.what()));
  }
}

// Decodes the private tests into the cache once, keyed by the published field's hash.
std::string keep_private_tests(const JsonRecord& record) {
  const std::string field = record.string("private_test_cases");
  const std::string sha256 = sha256_hex(field);
  const fs::path path = test_material_path(sha256);
  if (fs::exists(path)) return sha256;
  const std::string decoded = decode_tests_field(record, "private_test_cases").dump();
  fs::create_directories(path.parent_path());
  const fs::path temporary = path.string() + fmt::format(".{}.tmp", ::getpid());
  {
    std::ofstream out(temporary, std::ios::binary);
    out << decoded;
    if (!out) throw UserError(fmt::format("cannot write {}", temporary.string()));
  }
  fs::rename(temporary, path);  // atomic: a reader sees the whole file or none
  return sha256;
}

Problem problem_from_lite(const JsonRecord& record) {
  Problem problem;
  problem.id = record.string("question_id");
  problem.question = record.string("question_content");
  const std::string starter_code = record.string("starter_code");
  problem.metadata = base_metadata(problem.id, record.string("contest_id"), record.string("contest_date"),
                                   record.string("platform"), starter_code);
  problem.metadata["difficulty"] = record.string("difficulty");
  problem.metadata["title"] = record.string("question_title");
  const nlohmann::json extra = nlohmann::json::parse(record.string("metadata"), nullptr, false);
  if (!extra.is_object()) record.fail("metadata", "is not a JSON object in a string");
  if (extra.contains("func_name")) problem.metadata["func_name"] = extra["func_name"];
  problem.metadata["public_test_cases"] = decode_tests_field(record, "public_test_cases");
  problem.metadata["private_test_cases"] = {{"sha256", keep_private_tests(record)}};
  return problem;
}

// The problems of the release files that `keep` accepts (it sees question_id and contest_date first,
// so the large test fields of other problems are never decoded).
std::vector<Problem> read_lite_problems(const std::vector<fs::path>& files,
                                        const std::function<bool(const std::string&, const std::string&)>& keep) {
  std::vector<Problem> problems;
  for (const auto& file : files) {
    read_jsonl(file, [&](const JsonRecord& record) {
      if (keep(record.string("question_id"), record.string("contest_date")))
        problems.push_back(problem_from_lite(record));
    });
  }
  return problems;
}

// The release files from <data>/livecodebench/code_generation_lite/ if that folder exists, else the Hub.
std::vector<fs::path> release_files(const std::optional<fs::path>& data_dir) {
  std::vector<fs::path> files;
  if (data_dir && fs::is_directory(*data_dir / "livecodebench" / kLocalTestsFolder)) {
    for (const char* name : kWindowFiles) {
      const fs::path path = *data_dir / "livecodebench" / kLocalTestsFolder / name;
      if (!fs::is_regular_file(path)) {
        throw UserError(fmt::format("{} is missing ({} holds the files {} of {})", path.string(),
                                    path.parent_path().string(), fmt::join(kWindowFiles, ", "), kHubRepo));
      }
      files.push_back(path);
    }
    return files;
  }
  const HubClient hub(HubSettings::from_environment());
  for (const char* name : kWindowFiles) files.push_back(hub.fetch(HubFile(kHubRepo, name)));
  return files;
}

bool in_window(const std::string& contest_date) { return contest_date >= kWindowStart && contest_date < kWindowEnd; }

// QwQ's problems, with the tests of code_generation_lite joined on question_id where they can be had.
std::vector<Problem> local_problems(const fs::path& data_dir, const fs::path& qwq_path) {
  std::vector<Problem> problems;
  read_jsonl(qwq_path, [&](const JsonRecord& record) { problems.push_back(problem_from_qwq(record)); });

  std::vector<fs::path> files;
  try {
    files = release_files(data_dir);
  } catch (const UserError& error) {
    fmt::print(stderr, "warning: livecodebench: loading without tests: {}\n", error.what());
    return problems;
  }
  std::set<std::string, std::less<>> wanted;
  for (const auto& problem : problems) wanted.insert(problem.id);
  const std::vector<Problem> with_tests =
      read_lite_problems(files, [&](const std::string& id, const std::string&) { return wanted.contains(id); });
  std::map<std::string, const Problem*, std::less<>> tests_by_id;
  for (const auto& problem : with_tests) tests_by_id.emplace(problem.id, &problem);

  size_t without_tests = 0;
  for (auto& problem : problems) {
    const auto found = tests_by_id.find(problem.id);
    if (found == tests_by_id.end()) {
      ++without_tests;
      continue;
    }
    // The release record is the authority on everything but the question and the starter code: those
    // make up the prompt, which QwQ's file gives.
    nlohmann::json release = found->second->metadata;
    release.erase("starter_code");
    problem.metadata.update(release);
  }
  if (without_tests > 0) {
    fmt::print(stderr, "warning: livecodebench: {} of {} problems have no tests in {}\n", without_tests,
               problems.size(), files.front().parent_path().string());
  }
  return problems;
}

}  // namespace

nlohmann::json decode_livecodebench_tests(std::string_view field) {
  const size_t start = field.find_first_not_of(" \t\r\n");
  const bool json_text = start != std::string_view::npos && field[start] == '[';
  const std::string text = json_text ? std::string(field) : unpickle_string(inflate_zlib(decode_base64(field)));
  nlohmann::json tests = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!tests.is_array()) throw UserError("the test cases are not a JSON array");
  for (const auto& test : tests) {
    if (!test.is_object() || !test.contains("input") || !test.contains("output")) {
      throw UserError("a test case lacks `input` or `output`");
    }
  }
  return tests;
}

std::string livecodebench_prompt(std::string_view question_content, std::string_view starter_code) {
  const bool has_starter = !starter_code.empty();
  return fmt::format("{}{}\n\n{}\n```python\n{}\n```\n\n", kQuestionPreamble, question_content,
                     has_starter ? kStarterCodeFormat : kStdinFormat, has_starter ? starter_code : kNoStarterCode);
}

std::unique_ptr<Suite> open_livecodebench(const SuiteOptions& options) {
  std::vector<Problem> problems;
  std::string source;
  if (const auto data_dir = local_data_dir(options)) {
    const DatasetFile dataset{"livecodebench", "livecodebench", kQwqFile, std::nullopt, "QwenLM/QwQ"};
    const fs::path path = locate_dataset_file(options, dataset);
    problems = local_problems(*data_dir, path);
    source = path.string();
  } else {
    problems = read_lite_problems(release_files(std::nullopt),
                                  [](const std::string&, const std::string& date) { return in_window(date); });
    std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
      return a.metadata["contest_date"].get<std::string>() < b.metadata["contest_date"].get<std::string>();
    });
    source = fmt::format("{} ({})", kHubRepo, fmt::join(kWindowFiles, ", "));
  }

  SuiteSpec spec;
  spec.name = "livecodebench";
  spec.scorer = "code";
  spec.prompt_template = livecodebench_prompt("{question_content}", "{starter_code}") + "[or, without starter code]\n" +
                         livecodebench_prompt("{question_content}", "");
  spec.render = [](const Problem& problem, int) {
    return render_user_prompt(
        livecodebench_prompt(problem.question, problem.metadata.at("starter_code").get<std::string>()), "");
  };
  return make_loaded_suite(std::move(spec), std::move(problems), source);
}

}  // namespace rbench
