// The models bundled in models/ (arith-moe and its weaker sibling arith-moe-early, trained by
// tools/train_arith_model.py) against transformers: the engine's logits of every position within
// 1e-4 · max|logit| of reference.json's float64 logits of the same bf16 weights, and greedy decoding
// through the Generator equal to transformers' greedy ids. Then the files the main job relies on: the
// tokenizer renders and encodes the reference prompt, and generation_config.json stops at <|im_end|>.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace rbench::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path model_dir(const std::string& name) { return testing::source_dir() / "models" / name; }

struct Reference {
  std::vector<TokenId> input_ids;
  std::vector<std::vector<double>> logits;  // [positions, vocab]
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> greedy_ids;
};

Reference load_reference(const std::string& name) {
  const json root = json::parse(testing::read_file(model_dir(name) / "reference.json"));
  return {root.at("input_ids").get<std::vector<TokenId>>(), root.at("logits_fp64").get<std::vector<std::vector<double>>>(),
          root.at("prompt_ids").get<std::vector<TokenId>>(), root.at("greedy_ids").get<std::vector<TokenId>>()};
}

class BundledModel : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledModel, IsASmallDeepSeekV3Moe) {
  const auto model = Model::load(model_dir(GetParam()));
  const ModelConfig& config = model->config();
  EXPECT_EQ(config.family, Family::deepseek_v3);
  EXPECT_GT(config.num_experts, 0u);
  EXPECT_GT(config.n_shared_experts, 0u);
  EXPECT_GT(config.kv_lora_rank, 0u);
  EXPECT_LE(fs::file_size(model_dir(GetParam()) / "model.safetensors"), 16u << 20) << "a few MB at most";
}

TEST_P(BundledModel, LogitsOfEveryPositionMatchTransformersFloat64) {
  const Reference reference = load_reference(GetParam());
  const auto model = Model::load(model_dir(GetParam()));
  const auto cache = model->new_cache();
  const SequenceStep step{reference.input_ids, cache.get(), true};
  const cpu::Matrix logits = std::move(model->forward({&step, 1}).front());
  ASSERT_EQ(logits.rows(), reference.logits.size());
  ASSERT_EQ(logits.cols(), reference.logits.front().size());
  double largest = 0;
  double worst = 0;
  for (std::size_t p = 0; p < reference.logits.size(); ++p) {
    for (std::size_t v = 0; v < reference.logits[p].size(); ++v) {
      largest = std::max(largest, std::abs(reference.logits[p][v]));
      worst = std::max(worst, std::abs(static_cast<double>(logits.row(p)[v]) - reference.logits[p][v]));
    }
  }
  const double error = worst / largest;
  RecordProperty("max_relative_logit_error", std::to_string(error));
  std::printf("[ %-15s ] %zu positions: max |logit − fp64| / max |fp64| = %.3g (max |fp64| %.2f)\n",
              GetParam().c_str(), reference.logits.size(), error, largest);
  EXPECT_LT(error, 1e-4);
}

TEST_P(BundledModel, GreedyGenerationMatchesTransformers) {
  const Reference reference = load_reference(GetParam());
  const auto model = Model::load(model_dir(GetParam()));
  Generator generator(*model, nullptr);
  GenerationParams params;
  params.sampling.greedy = true;
  params.ignore_eos = true;
  params.max_new_tokens = static_cast<int>(reference.greedy_ids.size());
  const Completion completion = generator.generate(reference.prompt_ids, params);
  EXPECT_EQ(completion.tokens, reference.greedy_ids);
  EXPECT_EQ(completion.finish_reason, "length");
}

// The reference prompt is the chat-rendered arith-0 question with the "<think>\n" prefill, as the
// main job builds it: the bundled tokenizer and template must give the same ids.
TEST_P(BundledModel, ChatTemplateAndTokenizerGiveTheReferencePrompt) {
  const Reference reference = load_reference(GetParam());
  const Tokenizer tokenizer = Tokenizer::load(model_dir(GetParam()));
  const ChatTemplate chat = ChatTemplate::from_tokenizer(tokenizer);
  EXPECT_EQ(chat.family(), ChatFamily::chatml);
  const std::string decoded = tokenizer.decode(reference.prompt_ids);
  const std::string user_start = "<|im_start|>user\n";
  const std::string user_end = "<|im_end|>\n<|im_start|>assistant\n<think>\n";
  ASSERT_TRUE(decoded.starts_with(user_start)) << decoded;
  ASSERT_TRUE(decoded.ends_with(user_end)) << decoded;
  const std::string question = decoded.substr(user_start.size(), decoded.size() - user_start.size() - user_end.size());
  const std::vector<ChatTurn> turns = {{"user", question}};
  const std::string prompt = chat.render(turns, {true, "<think>\n"});
  EXPECT_EQ(prompt, decoded);
  EXPECT_EQ(tokenizer.encode(prompt, true), reference.prompt_ids);
  // Digits are single tokens (the arithmetic the model learned is digit by digit).
  EXPECT_EQ(tokenizer.encode("4608", false).size(), 4u);
  ASSERT_TRUE(tokenizer.eos_id().has_value());
  EXPECT_EQ(tokenizer.token_id("<|im_end|>"), tokenizer.eos_id());
  const json generation = json::parse(testing::read_file(model_dir(GetParam()) / "generation_config.json"));
  EXPECT_EQ(generation.at("eos_token_id").get<int>(), *tokenizer.eos_id());
}

INSTANTIATE_TEST_SUITE_P(Models, BundledModel, ::testing::Values("arith-moe", "arith-moe-early"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace rbench::engine
