#include "suites/loaded_suite.h"

#include <fmt/format.h>

#include <unordered_set>

#include "common/error.h"
#include "common/hash.h"

namespace rbench {

namespace {

class LoadedSuite final : public Suite {
 public:
  LoadedSuite(SuiteSpec spec, std::vector<Problem> problems)
      : spec_(std::move(spec)), problems_(std::move(problems)), data_hash_(hash_problems(problems_)) {
    if (!spec_.hidden_content_hash.empty())
      data_hash_ = Sha256().field(data_hash_).field(spec_.hidden_content_hash).hex();
  }

  std::string name() const override { return spec_.name; }
  std::string scorer() const override { return spec_.scorer; }
  const std::vector<Problem>& problems() const override { return problems_; }
  std::string data_hash() const override { return data_hash_; }
  std::string prompt_template() const override { return spec_.prompt_template; }
  Prompt render(const Problem& problem, int sample_index) const override { return spec_.render(problem, sample_index); }
  bool questions_exportable() const override { return spec_.questions_exportable; }

 private:
  SuiteSpec spec_;
  std::vector<Problem> problems_;
  std::string data_hash_;
};

}  // namespace

std::unique_ptr<Suite> make_loaded_suite(SuiteSpec spec, std::vector<Problem> problems, const std::string& source) {
  if (problems.empty()) throw UserError(fmt::format("suite {}: no problems in {}", spec.name, source));
  std::unordered_set<std::string_view> ids;
  for (const auto& problem : problems) {
    if (!ids.insert(problem.id).second) {
      throw UserError(fmt::format("suite {}: problem id '{}' occurs twice in {}", spec.name, problem.id, source));
    }
  }
  return std::make_unique<LoadedSuite>(std::move(spec), std::move(problems));
}

Prompt render_user_prompt(std::string content, std::string gold) {
  Prompt prompt;
  prompt.messages = {{"user", std::move(content)}};
  prompt.assistant_prefill = kThinkPrefill;
  prompt.gold = std::move(gold);
  return prompt;
}

std::string choice_letter(size_t index) { return std::string(1, static_cast<char>('A' + index)); }

std::string format_multiple_choice(std::string_view question, const std::array<std::string, 4>& choices) {
  // The instruction is the template's text up to its first placeholder.
  const std::string_view full(kMultipleChoiceTemplate);
  std::string text(full.substr(0, full.find("{Question}")));
  text += question;
  text += "\n";
  for (size_t i = 0; i < choices.size(); ++i) text += fmt::format("\n{}) {}", choice_letter(i), choices[i]);
  return text;
}

}  // namespace rbench
