// The pieces behind the Backend interface that need no server: replay files, reasoning split, usage, specs.
#include <gtest/gtest.h>

#include "common/error.h"
#include "harness/backends/backend.h"
#include "harness/backends/reasoning.h"
#include "harness/backends/replay_backend.h"
#include "harness/backends/usage.h"
#include "support/test_support.h"

namespace rbench {
namespace {

using testing::TempDir;
using testing::write_file;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(SplitReasoning, SeparatesThinkBlockFromAnswer) {
  const ReasoningSplit both = split_reasoning("<think>\nlet me see\n</think>\n\nThe answer is 4.", false);
  EXPECT_EQ(both.reasoning, "let me see");
  EXPECT_EQ(both.answer, "The answer is 4.");
  EXPECT_FALSE(both.unclosed);
  const ReasoningSplit prefilled = split_reasoning("working\n</think>\n\\boxed{4}", true);
  EXPECT_EQ(prefilled.reasoning, "working");
  EXPECT_EQ(prefilled.answer, "\\boxed{4}");
  const ReasoningSplit plain = split_reasoning("just \\boxed{4}", false);
  EXPECT_EQ(plain.reasoning, "");
  EXPECT_EQ(plain.answer, "just \\boxed{4}");
}

TEST(SplitReasoning, AnUnfinishedThinkHasNoAnswer) {
  const ReasoningSplit cut = split_reasoning("<think>\nso it is \\boxed{4} maybe", false);
  EXPECT_TRUE(cut.unclosed);
  EXPECT_EQ(cut.answer, "");
  EXPECT_EQ(cut.reasoning, "so it is \\boxed{4} maybe");
  EXPECT_TRUE(split_reasoning("still thinking", true).unclosed);
}

TEST(UsageFromOpenAiJson, ReadsCachedAndReasoningTokensInEveryDialect) {
  const TokenUsage openai = usage_from_openai_json(nlohmann::json::parse(R"({
      "prompt_tokens": 100, "completion_tokens": 50,
      "prompt_tokens_details": {"cached_tokens": 64},
      "completion_tokens_details": {"reasoning_tokens": 30}})"));
  EXPECT_EQ(openai.input, 100);
  EXPECT_EQ(openai.cached_input, 64);
  EXPECT_EQ(openai.output, 50);
  EXPECT_EQ(openai.reasoning, 30);
  const TokenUsage deepseek = usage_from_openai_json(
      nlohmann::json::parse(R"({"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 8,
                                "prompt_tokens_details": null})"));
  EXPECT_EQ(deepseek.cached_input, 8);
  EXPECT_EQ(usage_from_openai_json(nlohmann::json::object()).input, 0);
}

TEST(ReplayBackend, ReplaysEveryLineByProblemAndSample) {
  TempDir dir;
  write_file(dir / "done.jsonl",
             R"({"problem_id": "p1", "sample_index": 0, "content": "\\boxed{1}", "reasoning_content": "r",)"
             R"( "usage": {"prompt_tokens": 3, "completion_tokens": 9}, "model": "m-7b"})"
             "\n\n"
             R"({"problem_id": "p1", "sample_index": 1, "content": "<think>hmm</think>\\boxed{2}",)"
             R"( "finish_reason": "length"})"
             "\n");
  const auto backend = make_replay_backend(dir / "done.jsonl");
  EXPECT_EQ(backend->identity().name, "m-7b");
  EXPECT_EQ(backend->identity().backend, "replay");
  EXPECT_EQ(backend->identity().weights_hash.size(), 64u);

  GenerationRequest request;
  request.problem_id = "p1";
  const GenerationResult first = backend->generate(request);
  EXPECT_EQ(first.answer, "\\boxed{1}");
  EXPECT_EQ(first.reasoning, "r");
  EXPECT_EQ(first.usage.output, 9);
  EXPECT_EQ(first.finish_reason, "stop");
  request.sample_index = 1;
  const GenerationResult second = backend->generate(request);
  EXPECT_EQ(second.reasoning, "hmm");
  EXPECT_EQ(second.answer, "\\boxed{2}");
  EXPECT_EQ(second.finish_reason, "length");
  request.sample_index = 2;
  const GenerationResult missing = backend->generate(request);
  EXPECT_NE(missing.error.find("no completion for problem 'p1' sample 2"), std::string::npos);
}

TEST(ReplayBackend, NamesTheFileLineAndFieldOfABadLine) {
  TempDir dir;
  const auto path = (dir / "bad.jsonl").string();
  const auto error_for = [&](const std::string& text) {
    write_file(path, text);
    return error_of([&] { make_replay_backend(path); });
  };
  EXPECT_NE(error_for("{\"problem_id\":\"a\",\"content\":\"x\"}\n{oops\n").find(path + ":2: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_for("{\"content\":\"x\"}\n").find(path + ":1: field 'problem_id' is missing"), std::string::npos);
  EXPECT_NE(error_for("{\"problem_id\":\"a\",\"content\":5}\n").find("field 'content' must be a string"),
            std::string::npos);
  EXPECT_NE(error_for("{\"problem_id\":\"a\",\"content\":\"x\",\"sample_index\":-1}\n").find("'sample_index'"),
            std::string::npos);
  EXPECT_NE(error_for("{\"problem_id\":\"a\",\"content\":\"x\"}\n{\"problem_id\":\"a\",\"content\":\"y\"}\n")
                .find(path + ":2: problem 'a' sample 0 already given on line 1"),
            std::string::npos);
  EXPECT_NE(error_for("").find("has no completions"), std::string::npos);
  EXPECT_NE(error_of([&] { make_replay_backend(dir / "absent.jsonl"); }).find("cannot read replay file"),
            std::string::npos);
}

TEST(MakeBackend, RejectsBadSpecsWithTheExpectedForm) {
  EXPECT_NE(error_of([] { make_backend("gpt4", {}); }).find("expected openai:MODEL@URL, replay:FILE.jsonl or engine:DIR"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_backend("openai:gpt-4o", {}); }).find("expected openai:MODEL@URL"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_backend("engine:/models/absent", {}); }).find("/models/absent does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace rbench
