// The runtime: sampling and the continuous-batching generator, on the fixture checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/model/model.h"
#include "engine/runtime/batch_model.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/sampling.h"
#include "support/test_support.h"

namespace rbench::engine {
namespace {

struct Reference {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
};

std::filesystem::path fixture(const std::string& family) {
  return rbench::testing::shared_dir() / "fixtures" / "models" / family;
}

Reference load_reference(const std::string& family) {
  std::ifstream in(fixture(family) / "reference.json");
  const auto json = nlohmann::json::parse(in);
  return {json["prompt_ids"].get<std::vector<int32_t>>(), json["greedy_ids"].get<std::vector<int32_t>>()};
}

GenerationParams greedy(int tokens) {
  GenerationParams params;
  params.sampling.greedy = true;
  params.max_new_tokens = tokens;
  params.ignore_eos = true;
  return params;
}

GenerationParams sampled(uint64_t seed, int tokens) {
  GenerationParams params;
  params.sampling = {false, 0.9f, 0.95f, 0, 0.0f, seed};
  params.max_new_tokens = tokens;
  params.ignore_eos = true;
  return params;
}

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(fixture("qwen2_moe"))) GTEST_SKIP() << "fixtures absent: set RBENCH_SHARED";
    model_ = Model::load(fixture("qwen2_moe"));
    reference_ = load_reference("qwen2_moe");
  }
  std::unique_ptr<Model> model_;
  Reference reference_;
};

TEST_F(GeneratorTest, GreedyContinuationEqualsTransformers) {
  Generator generator(*model_, nullptr);
  const Completion completion = generator.generate(reference_.prompt, greedy(20));
  EXPECT_EQ(completion.tokens, reference_.greedy);
  EXPECT_EQ(completion.finish_reason, "length");
  EXPECT_EQ(completion.prompt_tokens, 12);
}

// Sequences admitted at different steps share forward passes; none may change another's tokens.
TEST_F(GeneratorTest, BatchedSequencesMatchTheirSoloRuns) {
  std::vector<std::vector<int32_t>> prompts;
  for (size_t cut = 4; cut <= reference_.prompt.size(); cut += 2) {
    prompts.emplace_back(reference_.prompt.begin(), reference_.prompt.begin() + static_cast<std::ptrdiff_t>(cut));
  }
  std::vector<Completion> solo;
  {
    Generator generator(*model_, nullptr, {1});
    for (size_t i = 0; i < prompts.size(); ++i) solo.push_back(generator.generate(prompts[i], sampled(i, 8 + i)));
  }
  Generator generator(*model_, nullptr, {3});  // fewer slots than requests: some wait and join later
  std::vector<Generator::RequestId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(generator.submit(prompts[i], sampled(i, 8 + i)));
  for (size_t i = 0; i < ids.size(); ++i) {
    const Completion batched = generator.wait(ids[i]);
    EXPECT_EQ(batched.tokens, solo[i].tokens) << "request " << i;
    EXPECT_EQ(batched.tokens.size(), 8 + i);
  }
}

TEST_F(GeneratorTest, StopsAtAStopTokenUnlessEosIsIgnored) {
  Generator generator(*model_, nullptr);
  GenerationParams params = greedy(20);
  params.ignore_eos = false;
  params.stop_token_ids = {reference_.greedy[5]};
  const Completion stopped = generator.generate(reference_.prompt, params);
  const auto first = std::find(reference_.greedy.begin(), reference_.greedy.end(), reference_.greedy[5]);
  EXPECT_EQ(stopped.tokens, std::vector<int32_t>(reference_.greedy.begin(), first + 1));
  EXPECT_EQ(stopped.finish_reason, "stop");
  params.ignore_eos = true;
  EXPECT_EQ(generator.generate(reference_.prompt, params).tokens.size(), 20u);
}

TEST_F(GeneratorTest, CancelEndsARequestAndOthersContinue) {
  Generator generator(*model_, nullptr, {4});
  const auto long_one = generator.submit(reference_.prompt, greedy(100000));
  const auto short_one = generator.submit(reference_.prompt, greedy(20));
  EXPECT_EQ(generator.wait(short_one).tokens, reference_.greedy);
  generator.cancel(long_one);
  const Completion cancelled = generator.wait(long_one);
  EXPECT_EQ(cancelled.finish_reason, "cancelled");
  std::atomic<bool> flag{true};
  GenerationParams params = greedy(100000);
  params.cancelled = &flag;
  EXPECT_EQ(generator.generate(reference_.prompt, params).finish_reason, "cancelled");
}

// The CPU model behind a device's limits: a step feeds at most `step_tokens` tokens, and the cache
// holds `capacity` positions over all sequences. The generator must feed long prompts in pieces and
// preempt sequences when the cache is full, and no request may see its tokens change.
class LimitedModel final : public BatchModel {
 public:
  LimitedModel(const Model& model, std::size_t step_tokens, std::size_t capacity)
      : inner_(model), step_tokens_(step_tokens), capacity_(capacity) {}

  const ModelConfig& config() const override { return inner_.config(); }
  std::unique_ptr<Sequence> open_sequence(const SamplingConfig& sampling) override {
    return std::make_unique<Limited>(inner_.open_sequence(sampling), *this);
  }
  bool reserve(Sequence& sequence, std::size_t new_length) override {
    Limited& limited = static_cast<Limited&>(sequence);
    if (new_length <= limited.reserved) return true;
    if (used_ + new_length - limited.reserved > capacity_) return false;
    used_ += new_length - limited.reserved;
    limited.reserved = new_length;
    return true;
  }
  void release(Sequence& sequence) override {
    Limited& limited = static_cast<Limited&>(sequence);
    used_ -= limited.reserved;
    limited.reserved = 0;
    inner_.release(*limited.inner);
    ++preemptions;
  }
  std::size_t max_step_tokens() const override { return step_tokens_; }
  std::vector<TokenId> step(std::span<const Step> batch) override {
    std::size_t tokens = 0;
    for (const Step& step : batch) {
      const Limited& limited = static_cast<const Limited&>(*step.sequence);
      tokens += step.tokens.size();
      EXPECT_LE(limited.inner->length() + step.tokens.size(), limited.reserved) << "a step past its reservation";
      sample_flags.push_back(step.sample);
    }
    EXPECT_LE(tokens, step_tokens_);
    return inner_.step(unwrap(batch));
  }
  std::vector<cpu::Matrix> logits(std::span<const Step> batch, bool all_positions) override {
    return inner_.logits(unwrap(batch), all_positions);
  }
  std::size_t weight_bytes_per_token() const override { return inner_.weight_bytes_per_token(); }

  int preemptions = 0;
  std::vector<bool> sample_flags;

 private:
  struct Limited final : Sequence {
    Limited(std::unique_ptr<Sequence> inner_, LimitedModel& owner_) : inner(std::move(inner_)), owner(owner_) {}
    ~Limited() override { owner.used_ -= reserved; }
    std::size_t length() const override { return inner->length(); }
    std::unique_ptr<Sequence> inner;
    LimitedModel& owner;
    std::size_t reserved = 0;
  };

  std::vector<Step> unwrap(std::span<const Step> batch) const {
    std::vector<Step> inner;
    for (const Step& step : batch) {
      inner.push_back({static_cast<const Limited&>(*step.sequence).inner.get(), step.tokens, step.sample});
    }
    return inner;
  }

  CpuBatchModel inner_;
  std::size_t step_tokens_;
  std::size_t capacity_;
  std::size_t used_ = 0;
};

TEST_F(GeneratorTest, LongPromptsGoInPiecesAndPreemptedSequencesKeepTheirTokens) {
  std::vector<int32_t> long_prompt = reference_.prompt;
  for (int i = 0; i < 3; ++i) long_prompt.insert(long_prompt.end(), reference_.prompt.begin(), reference_.prompt.end());
  std::vector<std::vector<int32_t>> prompts = {long_prompt, reference_.prompt, long_prompt, reference_.prompt};
  std::vector<Completion> solo;
  {
    Generator generator(*model_, nullptr, {1});
    for (std::size_t i = 0; i < prompts.size(); ++i) solo.push_back(generator.generate(prompts[i], sampled(i, 16)));
  }
  // 48-token prompts in pieces of at most 10; 100 positions for four sequences of 28 to 64 positions.
  LimitedModel limited(*model_, 10, 100);
  {
    Generator generator(limited, nullptr, {4});
    std::vector<Generator::RequestId> ids;
    for (std::size_t i = 0; i < prompts.size(); ++i) ids.push_back(generator.submit(prompts[i], sampled(i, 16)));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(generator.wait(ids[i]).tokens, solo[i].tokens) << "request " << i;
    }
  }
  EXPECT_GT(limited.preemptions, 0);
  EXPECT_NE(std::find(limited.sample_flags.begin(), limited.sample_flags.end(), false), limited.sample_flags.end())
      << "no prompt was fed in pieces";
}

TEST_F(GeneratorTest, ARequestLargerThanTheWholeCacheFailsAndOthersRun) {
  LimitedModel limited(*model_, 64, 30);
  Generator generator(limited, nullptr, {2});
  const auto too_long = generator.submit(std::vector<int32_t>(31, 5), greedy(4));
  const auto fine = generator.submit(reference_.prompt, greedy(4));
  const Completion failed = generator.wait(too_long);
  EXPECT_EQ(failed.finish_reason, "error");
  EXPECT_NE(failed.error.find("KV cache"), std::string::npos) << failed.error;
  const std::vector<int32_t> first_four(reference_.greedy.begin(), reference_.greedy.begin() + 4);
  EXPECT_EQ(generator.wait(fine).tokens, first_four);
}

TEST_F(GeneratorTest, RefusesEmptyPrompts) {
  Generator generator(*model_, nullptr);
  const Completion completion = generator.generate({}, greedy(4));
  EXPECT_EQ(completion.finish_reason, "error");
  EXPECT_EQ(completion.error, "empty prompt");
}

TEST(Sampler, GreedyAndDegenerateFiltersPickTheArgmax) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(argmax(logits), 1);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    EXPECT_EQ(Sampler({false, 1.0f, 1.0f, 1, 0.0f, seed}).sample(logits), 1);     // top-k 1
    EXPECT_EQ(Sampler({false, 1.0f, 1e-6f, 0, 0.0f, seed}).sample(logits), 1);    // tiny top-p
    EXPECT_EQ(Sampler({false, 0.0f, 1.0f, 0, 0.0f, seed}).sample(logits), 1);     // temperature 0
  }
}

TEST(Sampler, FiltersDropTheTail) {
  // probabilities at T=1: softmax(log [0.5, 0.3, 0.15, 0.05])
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  for (uint64_t seed = 0; seed < 300; ++seed) {
    EXPECT_LT(Sampler({false, 1.0f, 0.75f, 0, 0.0f, seed}).sample(logits), 2);  // top-p 0.75 keeps {0, 1}
    EXPECT_LT(Sampler({false, 1.0f, 1.0f, 0, 0.2f, seed}).sample(logits), 3);   // min-p 0.2: 0.05 < 0.1
    EXPECT_LT(Sampler({false, 1.0f, 1.0f, 2, 0.0f, seed}).sample(logits), 2);   // top-k 2
  }
}

TEST(Sampler, DrawsInProportionAndIsReproducible) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler sampler({false, 1.0f, 1.0f, 0, 0.0f, 42});
  std::map<int32_t, int> counts;
  const int draws = 20000;
  std::vector<int32_t> first;
  for (int i = 0; i < draws; ++i) {
    const int32_t token = sampler.sample(logits);
    ++counts[token];
    if (i < 10) first.push_back(token);
  }
  // 5 standard deviations of a binomial(20000, p) at most
  EXPECT_NEAR(counts[0] / double(draws), 0.5, 5 * std::sqrt(0.25 / draws));
  EXPECT_NEAR(counts[1] / double(draws), 0.3, 5 * std::sqrt(0.21 / draws));
  EXPECT_NEAR(counts[2] / double(draws), 0.2, 5 * std::sqrt(0.16 / draws));
  Sampler again({false, 1.0f, 1.0f, 0, 0.0f, 42});
  for (int32_t token : first) EXPECT_EQ(again.sample(logits), token);
}

}  // namespace
}  // namespace rbench::engine

namespace rbench::engine {
namespace {

// Stop strings need text: the bundled model has a tokenizer whose pieces are short, so a stop string
// usually ends in the middle of a later token's text and must be cut there.
TEST(GeneratorText, StopStringCutsTheTextWhereItBegins) {
  const auto dir = rbench::testing::source_dir() / "models" / "arith-moe";
  const auto model = Model::load(dir);
  const Tokenizer tokenizer = Tokenizer::load(dir);
  const std::string prompt =
      "<|im_start|>user\nAva has 23 apples. Then Ava buys 19 more apples. How many apples does Ava have now?\n"
      "Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
      "<think>\n";
  Generator generator(*model, &tokenizer);
  GenerationParams params = greedy(200);
  params.ignore_eos = false;
  params.stop_token_ids = {*tokenizer.eos_id()};
  const Completion full = generator.generate(tokenizer.encode(prompt, true), params);
  ASSERT_EQ(full.finish_reason, "stop");
  EXPECT_NE(full.text.find("\\boxed{42}"), std::string::npos) << full.text;
  EXPECT_EQ(full.text, tokenizer.decode(std::span(full.tokens).first(full.tokens.size() - 1)));

  params.stop_strings = {"19 ="};  // spans several tokens
  const Completion cut = generator.generate(tokenizer.encode(prompt, true), params);
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find("19 =")));
  EXPECT_LT(cut.tokens.size(), full.tokens.size());
}

}  // namespace
}  // namespace rbench::engine
