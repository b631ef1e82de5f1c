#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/error.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace rbench::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using rbench::testing::TempDir;

const char* const kFixtureNames[] = {"deepseek_v3", "qwen3", "llama3"};
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

fs::path fixture_dir() { return rbench::testing::shared_dir() / "fixtures" / "tokenizers"; }

bool fixtures_present() { return fs::exists(fixture_dir() / "reference.json"); }

#define SKIP_WITHOUT_FIXTURES()                                                \
  if (!fixtures_present())                                                     \
  GTEST_SKIP() << "tokenizer fixtures not found in " << fixture_dir().string() \
               << " (set RBENCH_SHARED to the shared data directory)"

// Each fixture tokenizer is loaded once for the whole test program: loading parses ~10 MB of JSON.
const Tokenizer& fixture_tokenizer(const std::string& name) {
  static std::map<std::string, Tokenizer> loaded;
  auto found = loaded.find(name);
  if (found == loaded.end()) {
    found = loaded.emplace(name, Tokenizer::load(fixture_dir() / (name + ".tokenizer.json"))).first;
  }
  return found->second;
}

const json& reference() {
  static const json parsed = json::parse(rbench::testing::read_file(fixture_dir() / "reference.json"));
  return parsed;
}

std::string stream_decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special = false) {
  StreamingDecoder decoder(tokenizer, skip_special);
  std::string text;
  for (int32_t id : ids) text += decoder.push(id);
  return text + decoder.finish();
}

class ReferenceCorpus : public ::testing::TestWithParam<const char*> {};

// Every corpus string must give Hugging Face's ids (encode, add_special_tokens=False) and text
// (decode, skip_special_tokens=False); the streaming decoder must give the same text.
TEST_P(ReferenceCorpus, EncodesAndDecodesLikeHuggingFace) {
  SKIP_WITHOUT_FIXTURES();
  const std::string name = GetParam();
  const Tokenizer& tokenizer = fixture_tokenizer(name);
  const json& entries = reference().at(name);
  size_t encoded_alike = 0, decoded_alike = 0, streamed_alike = 0;
  for (const json& entry : entries) {
    const std::string text = entry.at("text").get<std::string>();
    const auto expected_ids = entry.at("ids").get<std::vector<int32_t>>();
    const std::string expected_text = entry.at("decoded").get<std::string>();
    const std::vector<int32_t> ids = tokenizer.encode(text);
    const std::string decoded = tokenizer.decode(expected_ids);
    const std::string streamed = stream_decode(tokenizer, expected_ids);
    EXPECT_EQ(ids, expected_ids) << name << " encode of " << json(text).dump();
    EXPECT_EQ(decoded, expected_text) << name << " decode of " << json(text).dump();
    EXPECT_EQ(streamed, expected_text) << name << " stream of " << json(text).dump();
    encoded_alike += ids == expected_ids;
    decoded_alike += decoded == expected_text;
    streamed_alike += streamed == expected_text;
  }
  std::printf("[ corpus   ] %s: %zu/%zu encode, %zu/%zu decode, %zu/%zu streamed decode match\n", name.c_str(),
              encoded_alike, entries.size(), decoded_alike, entries.size(), streamed_alike, entries.size());
}

INSTANTIATE_TEST_SUITE_P(FixtureTokenizers, ReferenceCorpus, ::testing::ValuesIn(kFixtureNames));

// Values read from each tokenizer_config.json and tokenizer.json's added_tokens.
TEST(FixtureTokenizers, SpecialTokensByName) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& deepseek = fixture_tokenizer("deepseek_v3");
  EXPECT_EQ(deepseek.bos_id(), 0);
  EXPECT_EQ(deepseek.eos_id(), 1);
  EXPECT_EQ(deepseek.bos_token(), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(deepseek.token_id("<｜Assistant｜>"), 128804);
  EXPECT_FALSE(deepseek.is_special(128804));  // DeepSeek marks its role tokens as not special
  EXPECT_TRUE(deepseek.is_special(1));
  EXPECT_EQ(deepseek.vocab_size(), 128815u);

  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen.bos_id(), std::nullopt);
  EXPECT_EQ(qwen.eos_id(), 151645);  // "<|im_end|>"
  EXPECT_EQ(qwen.token_id("<think>"), 151667);
  EXPECT_EQ(qwen.token_id("Ġthe"), 279);  // vocabulary entries are spelled in the byte-level alphabet
  EXPECT_EQ(qwen.token_id("no such token"), std::nullopt);
  EXPECT_EQ(qwen.vocab_size(), 151669u);

  const Tokenizer& llama = fixture_tokenizer("llama3");
  EXPECT_EQ(llama.bos_id(), 128000);
  EXPECT_EQ(llama.eos_id(), 128001);
  EXPECT_EQ(llama.token_id("<|eot_id|>"), 128009);
  EXPECT_EQ(llama.vocab_size(), 128256u);
}

TEST(FixtureTokenizers, AddsBosOnlyWhereConfiguredAndNeverTwice) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& deepseek = fixture_tokenizer("deepseek_v3");  // add_bos_token: true
  EXPECT_EQ(deepseek.encode("Hello, world!", true), (std::vector<int32_t>{0, 19923, 14, 2058, 3}));
  EXPECT_EQ(deepseek.encode("<｜begin▁of▁sentence｜>Hello, world!", true),
            (std::vector<int32_t>{0, 19923, 14, 2058, 3}));
  EXPECT_EQ(deepseek.encode("", true), (std::vector<int32_t>{0}));
  const Tokenizer& qwen = fixture_tokenizer("qwen3");  // add_bos_token: false, no BOS
  EXPECT_EQ(qwen.encode("Hello, world!", true), (std::vector<int32_t>{9707, 11, 1879, 0}));
}

TEST(FixtureTokenizers, SkipSpecialTokensDropsOnlySpecialOnes) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  const std::vector<int32_t> ids = qwen.encode("<|im_start|>user\nhi<|im_end|><think>x</think>");
  EXPECT_EQ(qwen.decode(ids), "<|im_start|>user\nhi<|im_end|><think>x</think>");
  EXPECT_EQ(qwen.decode(ids, true), "user\nhi<think>x</think>");  // <think> is an added, not special, token
  EXPECT_EQ(stream_decode(qwen, ids, true), "user\nhi<think>x</think>");
}

TEST(FixtureTokenizers, StreamingHoldsBackUnfinishedCharacters) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& llama = fixture_tokenizer("llama3");
  const std::string robot = "🤖";  // F0 9F A4 96: Llama 3 spells it with more than one token
  const std::vector<int32_t> ids = llama.encode(robot);
  ASSERT_GT(ids.size(), 1u);
  StreamingDecoder decoder(llama);
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(decoder.push(ids[i]), "") << "token " << i;
  EXPECT_EQ(decoder.push(ids.back()), robot);
  EXPECT_EQ(decoder.finish(), "");

  // A stream cut inside a character ends with U+FFFD, as decode does.
  StreamingDecoder cut(llama);
  EXPECT_EQ(cut.push(ids.front()), "");
  EXPECT_EQ(cut.finish(), kReplacement);
  EXPECT_EQ(llama.decode(std::span(ids).first(1)), kReplacement);
}

TEST(FixtureTokenizers, DecodeReplacesBrokenUtf8AndDropsUnknownIds) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  const std::optional<int32_t> lead = qwen.token_id("ä");  // the byte 0xE4 alone
  ASSERT_TRUE(lead);
  EXPECT_EQ(qwen.token_bytes(*lead), "\xE4");
  const std::vector<int32_t> ids = {*lead, 32, -5, 999999999};  // then "A", then ids nobody has
  EXPECT_EQ(qwen.decode(ids), kReplacement + "A");
}

TEST(FixtureTokenizers, InvalidUtf8IsEncodedAsReplacementCharacters) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen.encode("a\xFF" "b"), qwen.encode("a" + kReplacement + "b"));  // split: "\xFFb" is one escape
}

// Random text from a mix of scripts comes back unchanged (it is NFC, so Qwen's normaliser keeps it).
TEST(FixtureTokenizers, RoundTripsMixedText) {
  SKIP_WITHOUT_FIXTURES();
  const std::vector<std::string> parts = {
      "the", " ", "  ", "\n", "\r\n", "\t", "123", "4567", "x^2", "\\frac{a}{b}", "你好", "世界", "テスト", "한국어",
      "é", "ß", "🤖", "👨‍👩‍👧", "'s", "'LL", "...", "<|im_end|>", "<think>", "<｜User｜>", "<|eot_id|>", "  \n  ", "αβγ"};
  std::mt19937 random(7);
  for (const char* name : kFixtureNames) {
    const Tokenizer& tokenizer = fixture_tokenizer(name);
    for (int sample = 0; sample < 200; ++sample) {
      std::string text;
      for (int i = 0; i < 12; ++i) text += parts[random() % parts.size()];
      EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text) << name;
    }
  }
}

// Encoding shares a piece cache between threads; results must not depend on who filled it.
TEST(FixtureTokenizers, EncodesFromManyThreadsAtOnce) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& deepseek = fixture_tokenizer("deepseek_v3");
  const json& entries = reference().at("deepseek_v3");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&, thread] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < entries.size(); ++i) {
          const json& entry = entries[(i + thread * 7) % entries.size()];
          if (deepseek.encode(entry.at("text").get<std::string>()) != entry.at("ids").get<std::vector<int32_t>>()) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
}

// A single 200 KB word is one piece for BPE; the priority-queue merge keeps it near-linear.
TEST(FixtureTokenizers, LongWordsAreNotQuadratic) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  std::mt19937 random(11);
  std::string word;
  for (int i = 0; i < 200000; ++i) word.push_back(static_cast<char>('a' + random() % 26));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = qwen.encode(word);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(qwen.decode(ids), word);
  EXPECT_LT(seconds, 5.0);
}

TEST(FixtureTokenizers, LoadsFromAModelDirectory) {
  SKIP_WITHOUT_FIXTURES();
  TempDir model;
  fs::create_symlink(fixture_dir() / "qwen3.tokenizer.json", model / "tokenizer.json");
  fs::create_symlink(fixture_dir() / "qwen3.tokenizer_config.json", model / "tokenizer_config.json");
  const Tokenizer tokenizer = Tokenizer::load(model.path());
  EXPECT_EQ(tokenizer.encode("Hello, world!"), (std::vector<int32_t>{9707, 11, 1879, 0}));
  EXPECT_EQ(tokenizer.eos_id(), 151645);
  EXPECT_NE(tokenizer.chat_template().find("<|im_start|>"), std::string::npos);
}

// A Llama 2 / Mixtral style tokenizer in miniature: text normalised to "▁" spaces, no pre-tokenizer,
// characters outside the vocabulary as <0xXX> byte tokens, and the matching decoder.
json byte_fallback_tokenizer(const json& merges) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int byte = 0; byte < 256; ++byte) {
    char spelling[8];
    std::snprintf(spelling, sizeof spelling, "<0x%02X>", byte);
    vocab[spelling] = 3 + byte;
  }
  vocab["▁"] = 259;
  vocab["h"] = 260;
  vocab["i"] = 261;
  vocab["▁h"] = 262;
  vocab["▁hi"] = 263;
  return {{"added_tokens", json::array({{{"id", 1}, {"content", "<s>"}, {"special", true}},
                                        {{"id", 2}, {"content", "</s>"}, {"special", true}}})},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                                         {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
          {"pre_tokenizer", nullptr},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                                      {{"type", "ByteFallback"}},
                                      {{"type", "Fuse"}},
                                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
          {"model",
           {{"type", "BPE"},
            {"byte_fallback", true},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"vocab", vocab},
            {"merges", merges}}}};
}

void write_json(const fs::path& path, const json& value) { rbench::testing::write_file(path, value.dump()); }

TEST(ByteFallbackTokenizer, EncodesDecodesAndStreams) {
  TempDir dir;
  write_json(dir / "tokenizer.json", byte_fallback_tokenizer(json::array({"▁ h", "▁h i"})));
  const Tokenizer tokenizer = Tokenizer::load(dir / "tokenizer.json");
  // "hi é" -> "▁hi▁é": "▁hi" by two merges, "▁", and é (C3 A9) as two byte tokens.
  const std::vector<int32_t> ids = tokenizer.encode("hi é");
  EXPECT_EQ(ids, (std::vector<int32_t>{263, 259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tokenizer.decode(ids), "hi é");  // the decoder strips the space that normalisation added
  EXPECT_EQ(stream_decode(tokenizer, ids), "hi é");
  EXPECT_EQ(tokenizer.encode("hi", true), (std::vector<int32_t>{1, 263}));  // TemplateProcessing adds <s>
  EXPECT_EQ(tokenizer.encode("<s>hi", true), (std::vector<int32_t>{1, 263}));
}

TEST(ByteFallbackTokenizer, ReadsMergesInBothSpellings) {
  TempDir dir;
  write_json(dir / "strings.json", byte_fallback_tokenizer(json::array({"▁ h", "▁h i"})));
  write_json(dir / "arrays.json",
             byte_fallback_tokenizer(json::array({json::array({"▁", "h"}), json::array({"▁h", "i"})})));
  const std::string text = "hi hih ih";
  EXPECT_EQ(Tokenizer::load(dir / "strings.json").encode(text), Tokenizer::load(dir / "arrays.json").encode(text));
}

TEST(PreTokenizerSplit, AppliesEveryDelimiterBehavior) {
  // The example of Hugging Face's SplitDelimiterBehavior documentation: "the-final--countdown" on "-".
  const std::map<std::string, std::vector<std::string_view>> expected = {
      {"Removed", {"the", "final", "countdown"}},
      {"Isolated", {"the", "-", "final", "-", "-", "countdown"}},
      {"MergedWithPrevious", {"the-", "final-", "-", "countdown"}},
      {"MergedWithNext", {"the", "-final", "-", "-countdown"}},
      {"Contiguous", {"the", "-", "final", "--", "countdown"}},
  };
  for (const auto& [behavior, pieces] : expected) {
    const json node = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}};
    const auto pre_tokenizer = detail::PreTokenizer::from_json(node, {"test.json", "pre_tokenizer"});
    std::vector<std::string_view> split;
    std::deque<std::string> storage;
    pre_tokenizer.split("the-final--countdown", split, storage);
    EXPECT_EQ(split, pieces) << behavior;
  }
}

TEST(PreTokenizerSplit, DigitsAndByteLevelPrefixSpace) {
  const json node = {
      {"type", "Sequence"},
      {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                     {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}})}};
  const auto pre_tokenizer = detail::PreTokenizer::from_json(node, {"test.json", "pre_tokenizer"});
  EXPECT_TRUE(pre_tokenizer.byte_level());
  std::vector<std::string_view> split;
  std::deque<std::string> storage;
  pre_tokenizer.split("ab12 cd", split, storage);
  // Digits: "ab", "1", "2", " cd"; ByteLevel then gives every piece a leading space and splits GPT-2's way.
  EXPECT_EQ(split, (std::vector<std::string_view>{" ab", " 1", " 2", " cd"}));
}

std::string load_error(const fs::path& path) {
  try {
    Tokenizer::load(path);
  } catch (const UserError& error) {
    return error.what();
  }
  return "no error";
}

TEST(TokenizerErrors, NameTheFileAndTheField) {
  TempDir dir;
  EXPECT_NE(load_error(dir / "missing.json").find("missing.json"), std::string::npos);
  EXPECT_NE(load_error(dir.path()).find("no tokenizer.json"), std::string::npos);

  rbench::testing::write_file(dir / "broken.json", "{\"model\": ");
  EXPECT_NE(load_error(dir / "broken.json").find("not valid JSON"), std::string::npos);

  json unigram = byte_fallback_tokenizer(json::array());
  unigram["model"] = {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", 0.0})})}};
  write_json(dir / "unigram.json", unigram);
  const std::string unigram_error = load_error(dir / "unigram.json");
  EXPECT_NE(unigram_error.find("unigram.json"), std::string::npos) << unigram_error;
  EXPECT_NE(unigram_error.find("'model.type'"), std::string::npos) << unigram_error;
  EXPECT_NE(unigram_error.find("Unigram"), std::string::npos) << unigram_error;

  json metaspace = byte_fallback_tokenizer(json::array());
  metaspace["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "Metaspace"}}})}};
  write_json(dir / "metaspace.json", metaspace);
  const std::string metaspace_error = load_error(dir / "metaspace.json");
  EXPECT_NE(metaspace_error.find("'pre_tokenizer.pretokenizers[0].type'"), std::string::npos) << metaspace_error;
  EXPECT_NE(metaspace_error.find("Metaspace"), std::string::npos) << metaspace_error;

  json bad_merge = byte_fallback_tokenizer(json::array({"▁ x"}));
  write_json(dir / "bad_merge.json", bad_merge);
  EXPECT_NE(load_error(dir / "bad_merge.json").find("'model.merges[0]'"), std::string::npos);
}

}  // namespace
}  // namespace rbench::engine
