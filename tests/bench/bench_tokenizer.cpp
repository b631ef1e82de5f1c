// Encoding speed of the tokenizer on one core, in bytes of text per second, for the tokenizers of
// DeepSeek-V3/R1, Qwen3 and Llama 3, over text like what rbench encodes: English prose, Python and C++
// code, LaTeX math, Chinese and Japanese, and a reasoning trace.
//
// The tokenizer.json files come from $RBENCH_SHARED/fixtures/tokenizers (default: ../shared beside the
// source tree); each benchmark reports an error when they are absent.
//   RBENCH_SHARED=../shared build/tests/bench/bench_tokenizer
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using rbench::engine::Tokenizer;

constexpr size_t kTextBytes = 1 << 20;

const char* const kParagraphs[] = {
    "The committee reviewed the proposal on Tuesday and, after a long discussion about costs, decided to "
    "postpone the vote until the next meeting. Several members argued that the estimates were too "
    "optimistic; others pointed out that delaying would only make the project more expensive.\n\n",

    "def pass_at_k(n: int, c: int, k: int) -> float:\n"
    "    \"\"\"Unbiased estimator of pass@k (Chen et al., 2021).\"\"\"\n"
    "    if n - c < k:\n"
    "        return 1.0\n"
    "    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))\n\n",

    "for (size_t i = 0; i < rows; ++i) {\n"
    "  float sum = 0.0f;\n"
    "  for (size_t j = 0; j < cols; ++j) sum += weights[i * cols + j] * input[j];\n"
    "  output[i] = sum + bias[i];\n"
    "}\n\n",

    "Let $f(x) = x^3 - 3x + 1$. Since $f'(x) = 3x^2 - 3 = 0$ gives $x = \\pm 1$, the extrema are "
    "$f(1) = -1$ and $f(-1) = 3$. Therefore $$\\int_0^{2} f(x)\\,dx = \\left[\\frac{x^4}{4} - "
    "\\frac{3x^2}{2} + x\\right]_0^2 = 4 - 6 + 2 = 0,$$ so the answer is $\\boxed{0}$.\n\n",

    "机器学习是人工智能的一个分支，它使计算机能够在没有明确编程的情况下从数据中学习。近年来，"
    "大型语言模型在推理、翻译和代码生成等任务上取得了显著进展。\n\n",

    "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。カタカナとひらがなを使って、"
    "テキストを書くことができます。\n\n",

    "<think>\nOkay, so I need to find the number of ordered pairs. Let me start by factoring 2025 = 3^4 * 5^2. "
    "Wait, that's not quite right: I should check the parity first. Hmm, if x is odd then x^2 = 1 (mod 8)...\n"
    "</think>\n\nThe final answer is \\boxed{42}.\n\n",

    "| Model | AIME 2024 | MATH-500 | GPQA |\n|---|---|---|---|\n| R1 | 79.8 | 97.3 | 71.5 |\n"
    "See https://example.com/results?run=17&suite=aime for details, or email results@example.org.\n\n",
};

// About kTextBytes of the paragraphs in a shuffled order, with numbers that vary, so that the text is not
// one paragraph repeated (which would make the tokenizer's piece cache look better than it is).
std::string mixed_text() {
  std::mt19937 random(2024);
  std::string text;
  const size_t paragraph_count = std::size(kParagraphs);
  while (text.size() < kTextBytes) {
    text += kParagraphs[random() % paragraph_count];
    text += "Sample " + std::to_string(random() % 100000) + ", score " + std::to_string(random() % 1000) + "." +
            std::to_string(random() % 100) + ".\n";
  }
  return text;
}

fs::path fixture_dir() {
  const char* shared = std::getenv("RBENCH_SHARED");
  // This file is <source>/tests/bench/bench_tokenizer.cpp and the data is <source>/../shared.
  const fs::path root = shared ? fs::path(shared) : fs::path(__FILE__).parent_path() / ".." / ".." / ".." / "shared";
  return root / "fixtures" / "tokenizers";
}

const Tokenizer* fixture_tokenizer(const std::string& name) {
  static std::map<std::string, Tokenizer> loaded;
  const fs::path path = fixture_dir() / (name + ".tokenizer.json");
  if (!fs::exists(path)) return nullptr;
  auto found = loaded.find(name);
  if (found == loaded.end()) found = loaded.emplace(name, Tokenizer::load(path)).first;
  return &found->second;
}

void BM_Encode(benchmark::State& state, const std::string& name) {
  const Tokenizer* tokenizer = fixture_tokenizer(name);
  if (tokenizer == nullptr) {
    state.SkipWithError(
        ("no " + name + ".tokenizer.json in " + fixture_dir().string() + " (set RBENCH_SHARED)").c_str());
    return;
  }
  static const std::string text = mixed_text();
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = tokenizer->encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(tokens);
}

BENCHMARK_CAPTURE(BM_Encode, deepseek_v3, std::string("deepseek_v3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);

}  // namespace
