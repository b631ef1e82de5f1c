#pragma once
// A suite is a versioned set of problems plus the prompt template that turns a problem into a chat.
// Suites know nothing of backends, scorers' internals or the store.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rbench {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct Problem {
  std::string id;
  std::string question;     // the statement as published
  std::string gold;         // the gold answer in the form the suite's scorer expects
  std::string solution;     // a reference worked solution, where the dataset has one
  nlohmann::json metadata;  // subject, level, contest, release date, ... (an object)
};

// One sample's prompt. The gold may differ per sample (GPQA shuffles its choices per sample), so the
// runner grades against `gold` here, and `details` (e.g. the choice order) is stored with the sample.
struct Prompt {
  std::vector<ChatMessage> messages;
  std::string assistant_prefill;  // text the assistant turn starts with, e.g. "<think>\n"
  std::string gold;
  nlohmann::json details = nlohmann::json::object();
};

class Suite {
 public:
  virtual ~Suite() = default;
  virtual std::string name() const = 0;
  virtual std::string scorer() const = 0;           // name of the scorer that grades it: "math", "mc", ...
  virtual const std::vector<Problem>& problems() const = 0;
  virtual std::string data_hash() const = 0;        // content hash of the problems: the suite's version
  virtual std::string prompt_template() const = 0;  // template text; part of a run's identity
  virtual Prompt render(const Problem& problem, int sample_index) const = 0;
  // False where the authors ask that the questions never appear in plain text outside the evaluation
  // (GPQA): `suites export` then refuses to print them.
  virtual bool questions_exportable() const { return true; }
};

struct SuiteOptions {
  std::string data_dir;  // where file-backed suites look for their data ("" = defaults)
  uint64_t seed = 0;     // for generated suites: which problems to generate
  int size = 0;          // for generated suites: how many (0 = the suite's default)
};

struct SuiteInfo {
  std::string name;
  std::string description;
};

// Throws UserError naming the suite and the known suites when `name` is unknown.
std::unique_ptr<Suite> open_suite(const std::string& name, const SuiteOptions& options);
std::vector<SuiteInfo> list_suites();

// The DeepSeek-R1 math protocol: instruction in the user turn, `<think>\n` prefill.
inline constexpr const char* kMathInstruction =
    "Please reason step by step, and put your final answer within \\boxed{}.";
Prompt render_math_prompt(const Problem& problem);

// Content hash over ids, questions, golds and metadata, in order.
std::string hash_problems(const std::vector<Problem>& problems);

}  // namespace rbench
