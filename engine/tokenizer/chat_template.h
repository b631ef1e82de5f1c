#pragma once
// Chat prompts in the formats of the models rbench runs, rendered as their tokenizer_config.json Jinja
// templates render them for plain conversations (system, user and assistant turns; no tools), by one
// small C++ function per family rather than a Jinja interpreter:
//   deepseek  DeepSeek-V3 / R1 (and the R1 distills): <｜User｜>...<｜Assistant｜>
//   chatml    Qwen2 / 2.5 / 3:  <|im_start|>user\n...<|im_end|>\n
//   llama3    Llama 3 / 3.1+:   <|start_header_id|>user<|end_header_id|>\n\n...<|eot_id|>
// The family is recognised from markers in the template; what differs between versions of a family (R1's
// "<think>\n" after the generation prompt, Qwen3's reasoning handling, Qwen2.5's default system prompt,
// Llama 3.1's dated system header) is read from the template text too. A user may name the family.
//
//   ChatTemplate chat = ChatTemplate::from_tokenizer(tokenizer);
//   std::string prompt = chat.render(turns, {.assistant_prefill = "<think>\n"});
//   std::vector<int32_t> ids = tokenizer.encode(prompt, /*add_special_tokens=*/true);  // BOS not doubled
#include <span>
#include <string>
#include <string_view>

#include "engine/tokenizer/tokenizer.h"

namespace rbench::engine {

enum class ChatFamily { deepseek, chatml, llama3 };
std::string_view chat_family_name(ChatFamily family);

struct ChatTurn {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Text the assistant turn starts with, e.g. "<think>\n" (rbench's reasoning protocol). Added after the
  // generation prompt unless that already ends with it (DeepSeek-R1's template adds "<think>\n" itself).
  std::string assistant_prefill;
};

class ChatTemplate {
 public:
  // Recognises the family of `jinja_source`. Throws UserError naming the markers it looked for.
  static ChatTemplate detect(std::string_view jinja_source, std::string bos_token);
  // The family named `family_name` ("deepseek", "chatml" or "qwen", "llama3"); version traits are still
  // read from `jinja_source`, which may be empty. Throws UserError for an unknown name.
  static ChatTemplate for_family(std::string_view family_name, std::string_view jinja_source, std::string bos_token);
  // The tokenizer's template; `family_override` names the family instead of detecting it ("" = detect).
  static ChatTemplate from_tokenizer(const Tokenizer& tokenizer, std::string_view family_override = "");

  ChatFamily family() const { return family_; }

  // Throws UserError for a role other than system, user and assistant.
  std::string render(std::span<const ChatTurn> turns, const ChatRenderOptions& options = {}) const;

 private:
  // What the versions of a family do differently, read from the template text.
  struct Traits {
    bool generation_prompt_opens_think = false;  // DeepSeek-R1: "<｜Assistant｜><think>\n"
    bool drops_past_reasoning = false;           // DeepSeek-R1: earlier answers lose their "...</think>"
    bool joins_system_prompts = false;           // DeepSeek-V3/R1: every system turn, joined by "\n\n"
    bool qwen3_reasoning = false;                // Qwen3: <think> blocks of assistant turns
    std::string default_system_prompt;           // Qwen2/2.5: used when there is no system turn
    bool dated_system_header = false;            // Llama 3.1+: "Cutting Knowledge Date: ..." header
    std::string date;                            // Llama 3.1+: "Today Date: ..."
    bool generation_prompt_always = false;       // Llama 3: the template ignores add_generation_prompt
  };

  ChatTemplate(ChatFamily family, std::string_view jinja_source, std::string bos_token);
  std::string render_deepseek(std::span<const ChatTurn> turns, bool add_generation_prompt) const;
  std::string render_chatml(std::span<const ChatTurn> turns, bool add_generation_prompt) const;
  std::string render_llama3(std::span<const ChatTurn> turns, bool add_generation_prompt) const;

  ChatFamily family_;
  Traits traits_;
  std::string bos_token_;
};

}  // namespace rbench::engine
