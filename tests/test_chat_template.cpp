#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/tokenizer/chat_template.h"
#include "support/test_support.h"

// The expected prompts are written out by hand from each template's Jinja source (the fixture
// tokenizer_config.json files, and quoted excerpts for the versions the fixtures do not cover); the
// comment above each says which branches of the template produce it.
namespace rbench::engine {
namespace {

namespace fs = std::filesystem;

fs::path fixture_dir() { return rbench::testing::shared_dir() / "fixtures" / "tokenizers"; }

#define SKIP_WITHOUT_FIXTURES()                                                \
  if (!fs::exists(fixture_dir() / "reference.json"))                           \
  GTEST_SKIP() << "tokenizer fixtures not found in " << fixture_dir().string() \
               << " (set RBENCH_SHARED to the shared data directory)"

std::string fixture_template(const std::string& name) {
  const auto config =
      nlohmann::json::parse(rbench::testing::read_file(fixture_dir() / (name + ".tokenizer_config.json")));
  return config.at("chat_template").get<std::string>();
}

const ChatRenderOptions kNoGenerationPrompt{.add_generation_prompt = false, .assistant_prefill = ""};
const std::vector<ChatTurn> kQuestion = {{"user", "What is 2+2?"}};
const std::vector<ChatTurn> kWithSystem = {{"system", "Be brief."}, {"user", "What is 2+2?"}};

// DeepSeek-V3: {{bos_token}}{{ns.system_prompt}}, then '<｜User｜>' + content per user turn, and
// '<｜Assistant｜>' if add_generation_prompt. This version adds no "<think>\n"; the protocol's prefill does.
TEST(DeepSeekTemplate, RendersTheFixtureTemplate) {
  SKIP_WITHOUT_FIXTURES();
  const ChatTemplate chat = ChatTemplate::detect(fixture_template("deepseek_v3"), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(chat.family(), ChatFamily::deepseek);
  EXPECT_EQ(chat.render(kQuestion), "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜>");
  EXPECT_EQ(chat.render(kWithSystem, {.assistant_prefill = "<think>\n"}),
            "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2+2?<｜Assistant｜><think>\n");
  // System turns are gathered first and joined by "\n\n" (ns.is_first_sp); an answer is followed by
  // '<｜end▁of▁sentence｜>' and, in V3, keeps its reasoning.
  const std::vector<ChatTurn> conversation = {
      {"system", "A."}, {"user", "Hi"}, {"assistant", "<think>hmm</think>Hello"}, {"system", "B."}, {"user", "Bye"}};
  EXPECT_EQ(chat.render(conversation, kNoGenerationPrompt),
            "<｜begin▁of▁sentence｜>A.\n\nB.<｜User｜>Hi<｜Assistant｜><think>hmm</think>Hello<｜end▁of▁sentence｜>"
            "<｜User｜>Bye");
}

// DeepSeek-R1's revision (excerpt): its generation prompt is '<｜Assistant｜><think>\n', and past answers
// lose everything up to '</think>' (content.split('</think>')[-1]).
TEST(DeepSeekTemplate, ReadsR1sThinkPrefillAndReasoningDrop) {
  const std::string r1_excerpt =
      "{% set content = message['content'] %}{% if '</think>' in content %}{% set content = "
      "content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
      "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
      "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) "
      "%}";
  const ChatTemplate chat = ChatTemplate::detect(r1_excerpt, "<｜begin▁of▁sentence｜>");
  const std::vector<ChatTurn> conversation = {
      {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello"}, {"user", "2+2?"}};
  // The prefill is not doubled: the template already ends its generation prompt with it.
  EXPECT_EQ(chat.render(conversation, {.assistant_prefill = "<think>\n"}),
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>\n\nHello<｜end▁of▁sentence｜><｜User｜>2+2?"
            "<｜Assistant｜><think>\n");
}

// Qwen3: messages[0] system -> '<|im_start|>system\n' + content + '<|im_end|>\n'; user turns
// '<|im_start|>user\n' + content + '<|im_end|>\n'; add_generation_prompt -> '<|im_start|>assistant\n'.
TEST(ChatMlTemplate, RendersTheQwen3FixtureTemplate) {
  SKIP_WITHOUT_FIXTURES();
  const ChatTemplate chat = ChatTemplate::detect(fixture_template("qwen3"), "");
  EXPECT_EQ(chat.family(), ChatFamily::chatml);
  EXPECT_EQ(chat.render(kQuestion, {.assistant_prefill = "<think>\n"}),
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n");
  EXPECT_EQ(chat.render(kWithSystem),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

// Qwen3's assistant turns: reasoning_content = content.split('</think>')[0].rstrip('\n')
// .split('<think>')[-1].lstrip('\n'), content = content.split('</think>')[-1].lstrip('\n'). Turns before
// the last user query (ns.last_query_index) print only the content; the last turn after it prints
// '<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.
TEST(ChatMlTemplate, KeepsQwen3ReasoningOnlyAfterTheLastQuery) {
  SKIP_WITHOUT_FIXTURES();
  const ChatTemplate chat = ChatTemplate::detect(fixture_template("qwen3"), "");
  const std::vector<ChatTurn> earlier = {{"user", "Q1"}, {"assistant", "<think>\nr1\n</think>\n\nA1"}, {"user", "Q2"}};
  EXPECT_EQ(chat.render(earlier),
            "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
            "<|im_start|>assistant\n");
  const std::vector<ChatTurn> last = {{"user", "Q"}, {"assistant", "<think>\n\nr\n\n</think>\n\nA"}};
  EXPECT_EQ(chat.render(last, kNoGenerationPrompt),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\nA<|im_end|>\n");
  // The last turn gets an (empty) think block even without reasoning: loop.last.
  const std::vector<ChatTurn> plain = {{"user", "Q"}, {"assistant", "A"}};
  EXPECT_EQ(chat.render(plain, kNoGenerationPrompt),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
}

// Qwen2.5 (excerpt): without a system turn it writes its own fixed one; answers are printed as they are.
TEST(ChatMlTemplate, UsesQwen25sDefaultSystemPrompt) {
  const std::string qwen25_excerpt =
      "{%- if messages[0]['role'] == 'system' %}\n"
      "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
      "{%- else %}\n"
      "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
      "assistant.<|im_end|>\\n' }}\n"
      "{%- endif %}\n";
  const ChatTemplate chat = ChatTemplate::detect(qwen25_excerpt, "");
  EXPECT_EQ(chat.render(kQuestion),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<ChatTurn> conversation = {{"user", "Q"}, {"assistant", "<think>r</think>A"}};
  EXPECT_EQ(chat.render(conversation, kNoGenerationPrompt),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>r</think>A<|im_end|>\n");
}

// Llama 3: per turn '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim + '<|eot_id|>',
// bos_token before the first; '<|start_header_id|>assistant<|end_header_id|>\n\n' at the end, which this
// version writes even without add_generation_prompt.
TEST(Llama3Template, RendersTheFixtureTemplate) {
  SKIP_WITHOUT_FIXTURES();
  const ChatTemplate chat = ChatTemplate::detect(fixture_template("llama3"), "<|begin_of_text|>");
  EXPECT_EQ(chat.family(), ChatFamily::llama3);
  const std::vector<ChatTurn> turns = {{"system", " Be brief.\n"}, {"user", "What is 2+2?"}};
  const std::string expected =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(chat.render(turns), expected);
  EXPECT_EQ(chat.render(turns, kNoGenerationPrompt), expected);
}

// Llama 3.1 (excerpt): a system turn always comes first with "Cutting Knowledge Date: December 2023\n"
// and "Today Date: " + date_string + "\n\n" before the (trimmed) system message.
TEST(Llama3Template, WritesLlama31sDatedSystemTurn) {
  const std::string llama31_excerpt =
      "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n"
      "{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
      "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
      "{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif "
      "%}\n";
  const ChatTemplate chat = ChatTemplate::detect(llama31_excerpt, "<|begin_of_text|>");
  EXPECT_EQ(chat.render(kQuestion),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(chat.render(kWithSystem, kNoGenerationPrompt),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>");
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UserError& error) {
    return error.what();
  }
  return "no error";
}

TEST(ChatTemplateErrors, NameTheMarkersAndTheFamilies) {
  const std::string unknown = error_of([] { ChatTemplate::detect("{{ messages }}", ""); });
  EXPECT_NE(unknown.find("<｜Assistant｜>"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("<|im_start|>"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("<|start_header_id|>"), std::string::npos) << unknown;
  EXPECT_NE(error_of([] { ChatTemplate::detect("", ""); }).find("no chat template"), std::string::npos);
  EXPECT_NE(error_of([] { ChatTemplate::for_family("vicuna", "", ""); }).find("vicuna"), std::string::npos);

  // Naming the family renders an unrecognised template anyway.
  const ChatTemplate chatml = ChatTemplate::for_family("qwen", "{{ messages }}", "");
  EXPECT_EQ(chatml.render(kQuestion), "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");

  const std::vector<ChatTurn> tool_turn = {{"tool", "{}"}};
  EXPECT_NE(error_of([&] { chatml.render(tool_turn); }).find("'tool'"), std::string::npos);
}

// The rendered prompt begins with the BOS text; encoding it with special tokens must not add a second BOS.
TEST(ChatTemplateWithTokenizer, PromptsStartWithOneBos) {
  SKIP_WITHOUT_FIXTURES();
  const Tokenizer tokenizer = Tokenizer::load(fixture_dir() / "deepseek_v3.tokenizer.json");
  const ChatTemplate chat = ChatTemplate::from_tokenizer(tokenizer);
  const std::string prompt = chat.render(kQuestion, {.assistant_prefill = "<think>\n"});
  const std::vector<int32_t> ids = tokenizer.encode(prompt, true);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 0);
  EXPECT_NE(ids[1], 0);
  EXPECT_EQ(tokenizer.decode(ids), prompt);
  EXPECT_EQ(ChatTemplate::from_tokenizer(tokenizer, "llama3").family(), ChatFamily::llama3);
}

}  // namespace
}  // namespace rbench::engine
