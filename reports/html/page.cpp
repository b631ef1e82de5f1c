#include "reports/html/page.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

#include "common/hash.h"
#include "reports/html/assets.h"

namespace rbench::html {

namespace {

std::string base64(const std::string& bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = uint8_t(bytes[i]) << 16 | uint8_t(bytes[i + 1]) << 8 | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    const uint32_t n = uint8_t(bytes[i]) << 16 | (rest == 2 ? uint8_t(bytes[i + 1]) << 8 : 0);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The CSP source expression that admits exactly this inline block.
std::string csp_hash(std::string_view block) {
  const std::string hex = sha256_hex(block);
  std::string digest;
  for (size_t i = 0; i < hex.size(); i += 2) digest += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return "'sha256-" + base64(digest) + "'";
}

}  // namespace

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string script_json(const nlohmann::json& value) {
  const std::string json = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    // These characters only occur inside JSON strings, where a \u escape means the same thing.
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')) {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string utc_timestamp() {
  return fmt::format("{:%Y-%m-%d %H:%M} UTC",
                     std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now()));
}

std::string render_page(const Page& page) {
  const std::string script = std::string(assets::common_js) + "\n" + std::string(page.script);
  const std::string_view style = assets::report_css;
  const std::string policy = fmt::format(
      "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
      csp_hash(style), csp_hash(script));
  std::string out;
  out.reserve(page.data_json.size() + script.size() + style.size() + 4096);
  out += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"" + policy + "\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"rbench\">\n";
  out += "<title>" + escape_text(page.title) + "</title>\n";
  out += "<style>" + std::string(style) + "</style>\n</head>\n<body>\n";
  out += "<header class=\"page-header\"><h1>" + escape_text(page.title) + "</h1>";
  out += "<p class=\"subtitle\">" + escape_text(page.subtitle) + "</p></header>\n";
  out += "<noscript><p class=\"notice\">This report draws its tables and plots with JavaScript; "
         "allow scripts for this file to see them.</p></noscript>\n";
  out += "<main id=\"app\"></main>\n";
  out += "<script type=\"application/json\" id=\"rbench-data\">";
  out += page.data_json;
  out += "</script>\n";
  out += "<script>" + script + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace rbench::html
