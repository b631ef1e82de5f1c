#include "engine/tokenizer/chat_template.h"

#include <algorithm>
#include <ctime>
#include <regex>
#include <string>

#include "common/error.h"
#include "engine/tokenizer/text.h"

namespace rbench::engine {

namespace {

constexpr std::string_view kDeepSeekMarker = "<｜Assistant｜>";
constexpr std::string_view kChatMlMarker = "<|im_start|>";
constexpr std::string_view kLlama3Marker = "<|start_header_id|>";

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Jinja's `trim` is Python's str.strip(): Unicode whitespace, plus the separators \x1c-\x1f.
bool is_python_space(char32_t c) { return detail::is_unicode_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

std::string_view trim(std::string_view text) {
  while (!text.empty()) {
    const size_t length = std::min(detail::utf8_char_length(static_cast<unsigned char>(text.front())), text.size());
    if (!is_python_space(detail::first_code_point(text.substr(0, length)))) break;
    text.remove_prefix(length);
  }
  while (!text.empty()) {
    size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (!is_python_space(detail::first_code_point(text.substr(start)))) break;
    text.remove_suffix(text.size() - start);
  }
  return text;
}

std::string_view trim_newlines_left(std::string_view text) {
  while (text.starts_with('\n')) text.remove_prefix(1);
  return text;
}

std::string_view trim_newlines_right(std::string_view text) {
  while (text.ends_with('\n')) text.remove_suffix(1);
  return text;
}

// Python's text.split(separator)[-1] and [0].
std::string_view after_last(std::string_view text, std::string_view separator) {
  const size_t found = text.rfind(separator);
  return found == std::string_view::npos ? text : text.substr(found + separator.size());
}
std::string_view before_first(std::string_view text, std::string_view separator) {
  return text.substr(0, text.find(separator));
}

// A Jinja string literal's escapes, for text copied out of a template.
std::string unescape_jinja(std::string_view literal) {
  std::string text;
  for (size_t i = 0; i < literal.size(); ++i) {
    if (literal[i] == '\\' && i + 1 < literal.size()) {
      const char escaped = literal[++i];
      text.push_back(escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped);
    } else {
      text.push_back(literal[i]);
    }
  }
  return text;
}

// Qwen2/2.5 write a fixed system turn for conversations without one:
// '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n'.
std::string default_system_prompt(std::string_view source) {
  static const std::regex fixed_system(R"(<\|im_start\|>system\\n([^'"+{}]*)<\|im_end\|>)");
  std::match_results<std::string_view::const_iterator> match;
  if (!std::regex_search(source.begin(), source.end(), match, fixed_system)) return "";
  return unescape_jinja(std::string_view(&*match[1].first, static_cast<size_t>(match[1].length())));
}

// Llama 3.1 writes a default date into the template; 3.2 asks for today's date with strftime_now.
std::string template_date(std::string_view source) {
  if (contains(source, "strftime_now(")) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%d %b %Y", &local);
    return buffer;
  }
  static const std::regex default_date(R"re(set date_string = "([^"]*)")re");
  std::match_results<std::string_view::const_iterator> match;
  if (std::regex_search(source.begin(), source.end(), match, default_date)) return match[1].str();
  return "26 Jul 2024";
}

// The template source holds Jinja string literals, where a newline may be written "\n" or as itself.
bool contains_literal(std::string_view source, std::string_view with_escaped_newline) {
  if (contains(source, with_escaped_newline)) return true;
  return contains(source, detail::replace_all(with_escaped_newline, "\\n", "\n"));
}

void check_roles(std::span<const ChatTurn> turns) {
  for (const ChatTurn& turn : turns) {
    if (turn.role != "system" && turn.role != "user" && turn.role != "assistant") {
      throw UserError("chat template: role '" + turn.role + "' is not supported (system, user, assistant)");
    }
  }
}

}  // namespace

std::string_view chat_family_name(ChatFamily family) {
  switch (family) {
    case ChatFamily::deepseek:
      return "deepseek";
    case ChatFamily::chatml:
      return "chatml";
    case ChatFamily::llama3:
      return "llama3";
  }
  return "?";
}

ChatTemplate::ChatTemplate(ChatFamily family, std::string_view source, std::string bos_token)
    : family_(family), bos_token_(std::move(bos_token)) {
  switch (family) {
    case ChatFamily::deepseek:
      traits_.generation_prompt_opens_think = contains_literal(source, "<｜Assistant｜><think>\\n");
      traits_.drops_past_reasoning = contains(source, "split('</think>')");
      traits_.joins_system_prompts = source.empty() || contains(source, "is_first_sp");
      break;
    case ChatFamily::chatml:
      traits_.qwen3_reasoning = contains(source, "reasoning_content");
      traits_.default_system_prompt = default_system_prompt(source);
      break;
    case ChatFamily::llama3:
      traits_.dated_system_header = contains(source, "Cutting Knowledge Date");
      if (traits_.dated_system_header) traits_.date = template_date(source);
      traits_.generation_prompt_always = !source.empty() && !contains(source, "add_generation_prompt");
      break;
  }
}

ChatTemplate ChatTemplate::detect(std::string_view source, std::string bos_token) {
  if (contains(source, kDeepSeekMarker)) return ChatTemplate(ChatFamily::deepseek, source, std::move(bos_token));
  if (contains(source, kChatMlMarker)) return ChatTemplate(ChatFamily::chatml, source, std::move(bos_token));
  if (contains(source, kLlama3Marker)) return ChatTemplate(ChatFamily::llama3, source, std::move(bos_token));
  throw UserError(std::string(source.empty() ? "there is no chat template" : "chat template not recognised") +
                  ": looked for \"" + std::string(kDeepSeekMarker) + "\" (deepseek), \"" + std::string(kChatMlMarker) +
                  "\" (chatml) and \"" + std::string(kLlama3Marker) +
                  "\" (llama3); name the family (deepseek, chatml, llama3) to use one anyway");
}

ChatTemplate ChatTemplate::for_family(std::string_view family_name, std::string_view source, std::string bos_token) {
  if (family_name == "deepseek") return ChatTemplate(ChatFamily::deepseek, source, std::move(bos_token));
  if (family_name == "chatml" || family_name == "qwen")
    return ChatTemplate(ChatFamily::chatml, source, std::move(bos_token));
  if (family_name == "llama3") return ChatTemplate(ChatFamily::llama3, source, std::move(bos_token));
  throw UserError("unknown chat template family '" + std::string(family_name) +
                  "' (known: deepseek, chatml, qwen, llama3)");
}

ChatTemplate ChatTemplate::from_tokenizer(const Tokenizer& tokenizer, std::string_view family_override) {
  if (family_override.empty()) return detect(tokenizer.chat_template(), tokenizer.bos_token());
  return for_family(family_override, tokenizer.chat_template(), tokenizer.bos_token());
}

std::string ChatTemplate::render(std::span<const ChatTurn> turns, const ChatRenderOptions& options) const {
  check_roles(turns);
  std::string prompt;
  switch (family_) {
    case ChatFamily::deepseek:
      prompt = render_deepseek(turns, options.add_generation_prompt);
      break;
    case ChatFamily::chatml:
      prompt = render_chatml(turns, options.add_generation_prompt);
      break;
    case ChatFamily::llama3:
      prompt = render_llama3(turns, options.add_generation_prompt);
      break;
  }
  if (options.add_generation_prompt && !prompt.ends_with(options.assistant_prefill))
    prompt += options.assistant_prefill;
  return prompt;
}

// tokenizer_config.json of DeepSeek-V3 / R1: system turns first (before any user turn, whatever their
// place), then "<｜User｜>" + content and "<｜Assistant｜>" + content + "<｜end▁of▁sentence｜>".
std::string ChatTemplate::render_deepseek(std::span<const ChatTurn> turns, bool add_generation_prompt) const {
  std::string system_prompt;
  bool first_system = true;
  for (const ChatTurn& turn : turns) {
    if (turn.role != "system") continue;
    if (!traits_.joins_system_prompts) {
      system_prompt = turn.content;  // the older distill templates keep only the last one
    } else {
      system_prompt += (first_system ? "" : "\n\n") + turn.content;
    }
    first_system = false;
  }
  std::string prompt = bos_token_ + system_prompt;
  for (const ChatTurn& turn : turns) {
    if (turn.role == "user") prompt += "<｜User｜>" + turn.content;
    if (turn.role != "assistant") continue;
    const std::string_view answer = traits_.drops_past_reasoning ? after_last(turn.content, "</think>") : turn.content;
    prompt += "<｜Assistant｜>" + std::string(answer) + "<｜end▁of▁sentence｜>";
  }
  if (add_generation_prompt)
    prompt += traits_.generation_prompt_opens_think ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
  return prompt;
}

// Qwen's ChatML: "<|im_start|>" + role + "\n" + content + "<|im_end|>\n" per turn. Qwen3 moves the
// reasoning of an answer into a "<think>\n...\n</think>\n\n" block for answers after the last user turn
// and drops it from earlier ones.
std::string ChatTemplate::render_chatml(std::span<const ChatTurn> turns, bool add_generation_prompt) const {
  std::string prompt;
  const bool has_system = !turns.empty() && turns.front().role == "system";
  if (!has_system && !traits_.default_system_prompt.empty()) {
    prompt += "<|im_start|>system\n" + traits_.default_system_prompt + "<|im_end|>\n";
  }
  // Qwen3's last_query_index: the last user turn that is not a tool response.
  size_t last_query = turns.empty() ? 0 : turns.size() - 1;
  for (size_t i = turns.size(); i-- > 0;) {
    const std::string& content = turns[i].content;
    const bool tool_response = content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
    if (turns[i].role == "user" && !tool_response) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < turns.size(); ++i) {
    const ChatTurn& turn = turns[i];
    if (turn.role != "assistant") {
      prompt += "<|im_start|>" + turn.role + "\n" + turn.content + "<|im_end|>\n";
      continue;
    }
    std::string_view answer = turn.content;
    std::string_view reasoning;
    if (traits_.qwen3_reasoning && contains(answer, "</think>")) {
      reasoning = trim_newlines_left(after_last(trim_newlines_right(before_first(answer, "</think>")), "<think>"));
      answer = trim_newlines_left(after_last(answer, "</think>"));
    }
    const bool show_reasoning =
        traits_.qwen3_reasoning && i > last_query && (i + 1 == turns.size() || !reasoning.empty());
    prompt += "<|im_start|>assistant\n";
    if (show_reasoning) {
      prompt += "<think>\n" + std::string(trim_newlines_left(trim_newlines_right(reasoning))) + "\n</think>\n\n";
      answer = trim_newlines_left(answer);
    }
    prompt += std::string(answer) + "<|im_end|>\n";
  }
  if (add_generation_prompt) prompt += "<|im_start|>assistant\n";
  return prompt;
}

// Llama 3: BOS, then "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + trimmed content +
// "<|eot_id|>" per turn. Llama 3.1+ always opens with a system turn that carries the dates.
std::string ChatTemplate::render_llama3(std::span<const ChatTurn> turns, bool add_generation_prompt) const {
  const auto header = [](std::string_view role) {
    return "<|start_header_id|>" + std::string(role) + "<|end_header_id|>\n\n";
  };
  std::string prompt;
  if (traits_.dated_system_header) {
    const bool has_system = !turns.empty() && turns.front().role == "system";
    prompt += bos_token_ + header("system") + "Cutting Knowledge Date: December 2023\nToday Date: " + traits_.date +
              "\n\n" + std::string(has_system ? trim(turns.front().content) : "") + "<|eot_id|>";
    if (has_system) turns = turns.subspan(1);
  } else if (!turns.empty()) {
    prompt += bos_token_;
  }
  for (const ChatTurn& turn : turns) prompt += header(turn.role) + std::string(trim(turn.content)) + "<|eot_id|>";
  if (add_generation_prompt || traits_.generation_prompt_always) prompt += header("assistant");
  return prompt;
}

}  // namespace rbench::engine
