#pragma once
// The shell every HTML report shares: one self-contained file (inline CSS and JS, no network access),
// the data embedded as JSON that the page's script reads and renders through textContent only.
// Model output is untrusted: nothing from the store is ever written into the document as markup.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace rbench::html {

// Text for HTML element content or a quoted attribute value: & < > " ' escaped.
std::string escape_text(std::string_view text);

// JSON that is safe as the content of <script type="application/json">: '<', '>' and '&' are written as
// \u003c, \u003e, \u0026 (so no string can close the element or open a comment) and U+2028/U+2029 as
// \u2028/\u2029; invalid UTF-8 becomes U+FFFD. JSON.parse reads it back unchanged.
std::string script_json(const nlohmann::json& value);

struct Page {
  std::string title;        // plain text: the document title and the heading
  std::string subtitle;     // plain text under the heading
  std::string_view script;  // the page's own script (an embedded asset), run after the shared one
  std::string data_json;    // script_json() text the script reads from the element with id "rbench-data"
};

// "2026-11-28 14:05 UTC": when a page was generated.
std::string utc_timestamp();

// The whole document. Its Content-Security-Policy admits only its own inline style and script blocks
// (by SHA-256) and no network at all, so even markup that slipped into the page could not run.
std::string render_page(const Page& page);

}  // namespace rbench::html
