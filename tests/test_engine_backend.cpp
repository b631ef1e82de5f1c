// `engine:DIR` end to end: a real checkpoint directory through the run loop into the store.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness/backends/engine_backend.h"
#include "harness/store/store.h"
#include "support/test_support.h"
#include "support/tiny_checkpoint.h"

namespace rbench {
namespace {

using testing::run_rbench;
using testing::TempDir;

TEST(EngineBackend, RendersTheChatRunsTheModelAndCountsTokens) {
  TempDir dir;
  if (!testing::make_tiny_checkpoint(dir / "tiny")) GTEST_SKIP() << "fixtures absent: set RBENCH_SHARED";
  const auto backend = make_engine_backend(dir / "tiny", {});
  EXPECT_EQ(backend->identity().backend, "engine");
  EXPECT_EQ(backend->identity().name, "tiny");
  EXPECT_EQ(backend->identity().weights_hash.size(), 64u);

  GenerationRequest request;
  request.messages = {{"user", "What is 2+2?"}};
  request.assistant_prefill = "<think>\n";
  request.sampling.max_tokens = 12;
  request.sampling.seed = 3;
  const GenerationResult first = backend->generate(request);
  EXPECT_TRUE(first.error.empty()) << first.error;
  // "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n", no merges:
  // 4 special tokens + one token per byte of "user\n", "What is 2+2?", "\n", "assistant\n", "\n"
  EXPECT_EQ(first.usage.input, 4 + 5 + 12 + 1 + 10 + 1);
  EXPECT_LE(first.usage.output, 12);
  EXPECT_TRUE(first.finish_reason == "length" || first.finish_reason == "stop") << first.finish_reason;
  EXPECT_EQ(backend->generate(request).reasoning, first.reasoning) << "a seeded request is reproducible";
}

TEST(EngineBackend, RunStoresRowsThroughTheCli) {
  TempDir dir;
  if (!testing::make_tiny_checkpoint(dir / "tiny")) GTEST_SKIP() << "fixtures absent: set RBENCH_SHARED";
  const std::string db = (dir / "r.db").string();
  const auto result = run_rbench({"run", "--model", "engine:" + (dir / "tiny").string(), "--suite", "arith",
                                  "--limit", "5", "--samples", "2", "--max-tokens", "16", "--db", db});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto store = Store::open(db, StoreMode::read_only);
  ASSERT_EQ(store->runs().size(), 1u);
  EXPECT_EQ(store->runs()[0].backend, "engine");
  const auto samples = store->samples(store->runs()[0].run_id);
  ASSERT_EQ(samples.size(), 10u);
  for (const auto& sample : samples) {
    EXPECT_TRUE(sample.error.empty()) << sample.error;
    EXPECT_GT(sample.input_tokens, 50);
    EXPECT_GT(sample.output_tokens, 0);
    EXPECT_LE(sample.output_tokens, 16);
  }
}

// `rbench bench` on the CPU: one JSON line per batch size, greedy by default as the peer script
// decodes, or sampled with --temperature / --top-p (recorded in the line); a top-p past 1 is refused.
TEST(EngineBackend, BenchPrintsALinePerBatchGreedyOrSampled) {
  TempDir dir;
  if (!testing::make_tiny_checkpoint(dir / "tiny")) GTEST_SKIP() << "fixtures absent: set RBENCH_SHARED";
  const std::vector<std::string> base = {"bench", "--model", (dir / "tiny").string(), "--device", "cpu",
                                         "--batch", "1,2", "--prompt", "4", "--gen", "3"};
  const auto lines_of = [](const std::string& out) {
    std::vector<nlohmann::json> lines;
    std::istringstream stream(out);
    for (std::string line; std::getline(stream, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  };
  const auto greedy = run_rbench(base);
  ASSERT_EQ(greedy.exit_code, 0) << greedy.err;
  const auto greedy_lines = lines_of(greedy.out);
  ASSERT_EQ(greedy_lines.size(), 2u);
  EXPECT_EQ(greedy_lines[1]["batch"], 2);
  EXPECT_EQ(greedy_lines[0]["sampling"], "greedy");
  EXPECT_GT(greedy_lines[0]["decode_tok_s"].get<double>(), 0);

  std::vector<std::string> sampled_args = base;
  sampled_args.insert(sampled_args.end(), {"--temperature", "0.6", "--top-p", "0.95"});
  const auto sampled = run_rbench(sampled_args);
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  const auto sampled_lines = lines_of(sampled.out);
  ASSERT_EQ(sampled_lines.size(), 2u);
  EXPECT_DOUBLE_EQ(sampled_lines[0]["sampling"]["temperature"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(sampled_lines[0]["sampling"]["top_p"].get<double>(), 0.95);

  std::vector<std::string> bad = base;
  bad.insert(bad.end(), {"--temperature", "0.6", "--top-p", "1.5"});
  const auto refused = run_rbench(bad);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--top-p"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace rbench
