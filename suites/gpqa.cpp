#include "suites/gpqa.h"

#include <fmt/format.h>
#include <zip.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "common/error.h"
#include "common/hash.h"
#include "suites/csv.h"
#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/loaded_suite.h"
#include "suites/splitmix64.h"

namespace rbench {

namespace {

constexpr const char* kDiamondMember = "dataset/gpqa_diamond.csv";

struct ZipArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }  // read-only: nothing to write back
};

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

bool looks_like_wrong_password(int code) {
  // ZipCrypto checks only one byte of the password; a wrong one that passes shows up as bad data.
  return code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_NOPASSWD || code == ZIP_ER_CRC || code == ZIP_ER_ZLIB ||
         code == ZIP_ER_COMPRESSED_DATA;
}

[[noreturn]] void throw_read_error(const std::filesystem::path& archive, const std::string& member, int code) {
  if (looks_like_wrong_password(code)) {
    throw UserError(
        fmt::format("{}: cannot decrypt {}: wrong password ({}); set RBENCH_GPQA_PASSWORD to the "
                    "password published in the GPQA README",
                    archive.string(), member, zip_error_text(code)));
  }
  throw UserError(fmt::format("{}: cannot read {}: {}", archive.string(), member, zip_error_text(code)));
}

std::string gpqa_password() {
  const char* env = std::getenv("RBENCH_GPQA_PASSWORD");
  return env != nullptr && *env != '\0' ? env : kGpqaPublishedPassword;
}

std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

using GpqaChoices = std::array<std::string, 4>;  // correct answer, then incorrect answers 1-3

}  // namespace

std::array<int, 4> gpqa_choice_order(std::string_view problem_id, int sample_index) {
  const std::string digest =
      Sha256().field("rbench gpqa choice order v1").field(problem_id).field(std::to_string(sample_index)).hex();
  SplitMix64 rng(std::stoull(digest.substr(0, 16), nullptr, 16));
  std::array<int, 4> order = {0, 1, 2, 3};
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  return order;
}

std::string read_encrypted_zip_member(const std::filesystem::path& archive_path, const std::string& member,
                                      const std::string& password) {
  int open_error = 0;
  std::unique_ptr<zip_t, ZipArchiveCloser> archive(zip_open(archive_path.c_str(), ZIP_RDONLY, &open_error));
  if (!archive) {
    throw UserError(fmt::format("cannot open {}: {}", archive_path.string(), zip_error_text(open_error)));
  }
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive.get(), member.c_str(), 0, &stat) != 0 || (stat.valid & ZIP_STAT_SIZE) == 0) {
    throw UserError(fmt::format("{}: has no member {}", archive_path.string(), member));
  }
  zip_file_t* file = zip_fopen_encrypted(archive.get(), member.c_str(), 0, password.c_str());
  if (file == nullptr) throw_read_error(archive_path, member, zip_error_code_zip(zip_get_error(archive.get())));

  std::string bytes(stat.size, '\0');
  zip_uint64_t filled = 0;
  while (filled < stat.size) {
    const zip_int64_t n = zip_fread(file, bytes.data() + filled, stat.size - filled);
    if (n <= 0) {
      const int code = n < 0 ? zip_error_code_zip(zip_file_get_error(file)) : ZIP_ER_EOF;
      zip_fclose(file);
      throw_read_error(archive_path, member, code);
    }
    filled += static_cast<zip_uint64_t>(n);
  }
  // Closing checks the CRC of the whole member, which is what catches most wrong passwords.
  if (const int code = zip_fclose(file); code != 0) throw_read_error(archive_path, member, code);
  return bytes;
}

std::unique_ptr<Suite> open_gpqa_diamond(const SuiteOptions& options) {
  const DatasetFile dataset{"gpqa_diamond", "gpqa", "dataset.zip", std::nullopt,
                            "idavidrein/gpqa dataset.zip (encrypted; the password is in its README)"};
  const auto path = locate_dataset_file(options, dataset);
  const std::string csv_text = read_encrypted_zip_member(path, kDiamondMember, gpqa_password());
  const CsvTable table(csv_text, fmt::format("{}:{}", path.string(), kDiamondMember));

  std::vector<Problem> problems;
  auto choices_by_id = std::make_shared<std::map<std::string, GpqaChoices, std::less<>>>();
  Sha256 choices_hash;
  for (const auto& row : table.rows()) {
    Problem problem;
    problem.id = row["Record ID"];
    if (problem.id.empty()) throw_field_error(row.where, "Record ID", "is empty");
    problem.question = trimmed(row["Question"]);  // many end in line breaks that would only pad the prompt
    problem.solution = row["Explanation"];
    problem.metadata = {{"record_id", problem.id},
                        {"domain", row["High-level domain"]},
                        {"subdomain", row["Subdomain"]},
                        {"cluster", row["Subdomain"]},
                        {"release_date", "2023-11-20"}};  // the GPQA paper, arXiv:2311.12022
    GpqaChoices choices;
    const std::array<const char*, 4> columns = {"Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                                                "Incorrect Answer 3"};
    for (size_t i = 0; i < columns.size(); ++i) {
      choices[i] = trimmed(row[columns[i]]);
      if (choices[i].empty()) throw_field_error(row.where, columns[i], "is empty");
      choices_hash.field(choices[i]);
    }
    choices_by_id->emplace(problem.id, std::move(choices));
    problems.push_back(std::move(problem));
  }

  SuiteSpec spec;
  spec.name = "gpqa_diamond";
  spec.scorer = "mc";
  spec.prompt_template = std::string(kMultipleChoiceTemplate) +
                         "\n[choices shuffled per (problem id, sample index): gpqa_choice_order v1]";
  spec.hidden_content_hash = choices_hash.hex();
  spec.questions_exportable = false;  // the GPQA authors ask that questions not be revealed in plain text
  spec.render = [choices_by_id](const Problem& problem, int sample_index) {
    const auto found = choices_by_id->find(problem.id);
    if (found == choices_by_id->end()) throw std::logic_error("gpqa_diamond: unknown problem " + problem.id);
    const std::array<int, 4> order = gpqa_choice_order(problem.id, sample_index);
    GpqaChoices shown;
    size_t gold = 0;
    for (size_t letter = 0; letter < order.size(); ++letter) {
      shown[letter] = found->second[static_cast<size_t>(order[letter])];
      if (order[letter] == 0) gold = letter;
    }
    Prompt prompt = render_user_prompt(format_multiple_choice(problem.question, shown), choice_letter(gold));
    prompt.details = {{"choice_order", order}};
    return prompt;
  };
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

}  // namespace rbench
