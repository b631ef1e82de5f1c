// The HTML reports: escaping, the JSON embedding (hostile model output must stay data), the data each
// page carries, and the CLI commands that write them. tests/browser/ checks the pages in Chromium.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/hash.h"
#include "reports/html/drilldown_page.h"
#include "reports/html/leaderboard_page.h"
#include "reports/html/page.h"
#include "support/test_support.h"

namespace rbench {
namespace {

using nlohmann::json;

const std::string hostile_trace =
    "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\"></script><!-- \xe2\x80\xa8 \xe2\x80\xa9";

size_t occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const size_t start = text.find(open);
  if (start == std::string::npos) return "";
  const size_t end = text.find(close, start + open.size());
  return text.substr(start + open.size(), end - start - open.size());
}

json embedded_data(const std::string& page) {
  return json::parse(between(page, "<script type=\"application/json\" id=\"rbench-data\">", "</script>"));
}

// A store with two runs of suite "s" (problems p0..p2, two samples each) and one run of suite "t".
struct ReportStore {
  testing::TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir / "r.db");

  void add_run(const std::string& run_id, const std::string& model, const std::string& suite,
               const std::vector<std::string>& verdicts) {
    SuiteRecord suite_record{suite, "hash-" + suite, {}};
    for (int p = 0; p < 3; ++p) {
      suite_record.problems.push_back(
          {"p" + std::to_string(p), std::to_string(p), {{"subject", p == 2 ? "Algebra" : "Geometry"}, {"n", p}}});
    }
    const int64_t suite_id = store->put_suite(suite_record);
    const int64_t model_id = store->put_model({model, "replay", "f", model, {}, {}, {}, ""});
    RunRecord run;
    run.run_id = run_id;
    run.k = 2;
    store->begin_run(run, model_id, suite_id);
    for (size_t i = 0; i < verdicts.size(); ++i) {
      SampleRecord sample;
      sample.run_id = run_id;
      sample.problem_id = "p" + std::to_string(i / 2);
      sample.sample_index = static_cast<int>(i % 2);
      sample.prompt = json{{"messages", {{{"role", "user"}, {"content", "What is " + sample.problem_id + "?"}}}},
                           {"assistant_prefill", "<think>\n"},
                           {"gold", "gold-" + sample.problem_id}}
                          .dump();
      sample.reasoning = i == 0 ? hostile_trace : "thinking " + std::to_string(i);
      sample.answer = "\\boxed{" + std::to_string(i) + "}";
      sample.verdict = verdicts[i];
      sample.score = verdicts[i] == "correct" ? 1.0 : 0.0;
      sample.finish_reason = i == 3 ? "length" : "stop";
      sample.output_tokens = 100 * static_cast<int64_t>(i + 1);
      sample.reasoning_tokens = 80 * static_cast<int64_t>(i + 1);
      sample.cost_usd = 0.001 * static_cast<double>(i + 1);
      if (i == 1) sample.grading = R"({"first_failing_test":"assert f(2) == 4 </script>"})";
      store->write_sample(sample);
    }
    store->finish_run(run_id, "finished");
  }
};

TEST(HtmlPage, EscapeTextEscapesMarkupCharacters) {
  EXPECT_EQ(html::escape_text("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(html::escape_text("plain ± text"), "plain ± text");
}

TEST(HtmlPage, ScriptJsonHasNoMarkupAndReadsBackUnchanged) {
  const json value = {{"trace", hostile_trace}, {"list", {"</SCRIPT>", "a&b", "<!--"}}};
  const std::string embedded = html::script_json(value);
  for (const char* forbidden : {"<", ">", "&", "\xe2\x80\xa8", "\xe2\x80\xa9"}) {
    EXPECT_EQ(embedded.find(forbidden), std::string::npos) << forbidden;
  }
  EXPECT_NE(embedded.find("\\u003cscript\\u003e"), std::string::npos);
  EXPECT_NE(embedded.find("\\u2028"), std::string::npos);
  EXPECT_EQ(json::parse(embedded), value);
}

TEST(HtmlPage, ScriptJsonReplacesInvalidUtf8) {
  const std::string embedded = html::script_json(json{{"text", std::string("ok \xff\xfe end")}});
  EXPECT_EQ(json::parse(embedded)["text"], "ok \xef\xbf\xbd\xef\xbf\xbd end");
}

TEST(HtmlPage, PageEmbedsDataEscapesTitleAndPinsItsScriptsByHash) {
  html::Page page;
  page.title = "runs of <b>model</b>";
  page.subtitle = "from \"x\"";
  page.script = "console.log(1);";
  const json data = {{"trace", hostile_trace}};
  page.data_json = html::script_json(data);
  const std::string text = html::render_page(page);
  EXPECT_NE(text.find("<title>runs of &lt;b&gt;model&lt;/b&gt;</title>"), std::string::npos);
  EXPECT_NE(text.find("from &quot;x&quot;"), std::string::npos);
  EXPECT_EQ(embedded_data(text), data);
  EXPECT_EQ(occurrences(text, "</script>"), 2u);  // the data block and the script, nothing from the data
  EXPECT_EQ(text.find("window.__pwned=1</script>"), std::string::npos);
  for (const char* fetching : {"<link", "<script src", "<img", "@import", "url("}) {  // works offline
    EXPECT_EQ(text.find(fetching), std::string::npos) << fetching;
  }

  // The policy admits exactly the inline script that is there.
  const std::string script = between(text, "</script>\n<script>", "</script>");
  EXPECT_NE(script.find("console.log(1);"), std::string::npos);
  const std::string policy = between(text, "Content-Security-Policy\" content=\"", "\"");
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(policy.find("script-src 'sha256-"), std::string::npos);
  EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos);
}

TEST(HtmlPage, CspHashIsTheBase64OfTheScriptsSha256) {
  html::Page page;
  page.script = "";
  const std::string text = html::render_page(page);
  const std::string script = between(text, "</script>\n<script>", "</script>");
  // The hash in the policy is recomputed here independently of page.cpp: hex -> bytes -> base64.
  const std::string hex = sha256_hex(script);
  std::string bytes;
  for (size_t i = 0; i < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  int bits = 0, value = 0;
  for (unsigned char c : bytes) {
    value = (value << 8) | c;
    bits += 8;
    while (bits >= 6) encoded += alphabet[(value >> (bits -= 6)) & 63];
  }
  if (bits > 0) encoded += alphabet[(value << (6 - bits)) & 63];
  while (encoded.size() % 4) encoded += '=';
  EXPECT_NE(text.find("script-src 'sha256-" + encoded + "'"), std::string::npos) << encoded;
}

TEST(HtmlPage, ScriptsNeverParseMarkup) {
  // The rule the pages live by: data reaches the document as text only (docs/reports.md).
  for (const char* asset : {"common.js", "leaderboard.js", "drilldown.js"}) {
    const std::string script = testing::read_file(testing::source_dir() / "reports/html/assets" / asset);
    for (const char* parser : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                               "createContextualFragment", "DOMParser"}) {
      EXPECT_EQ(script.find(parser), std::string::npos) << asset << " uses " << parser;
    }
  }
}

TEST(LengthHistogram, BinsCoverZeroToTheLongestWithWholeTokenWidths) {
  // upper 1000 in 24 bins: width ceil(1001 / 24) = 42, so 24 bins cover 0..1007.
  const html::Histogram h = html::length_histogram({0, 41, 42, 1000, 5000}, 1000, 24);
  EXPECT_EQ(h.bin_width, 42);
  ASSERT_EQ(h.counts.size(), 24u);
  EXPECT_EQ(h.counts[0], 2);   // 0 and 41
  EXPECT_EQ(h.counts[1], 1);   // 42
  EXPECT_EQ(h.counts[23], 2);  // 1000 (bin 23 = 966..1007) and 5000, above the range
  const html::Histogram tiny = html::length_histogram({0, 1, 2}, 2, 24);
  EXPECT_EQ(tiny.bin_width, 1);
  EXPECT_EQ(tiny.counts, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(html::length_histogram({}, 0, 24).counts, (std::vector<int64_t>{0}));
}

TEST(LeaderboardPage, CarriesTheRowsAndAHistogramPerRun) {
  ReportStore fixture;
  fixture.add_run("run-a", "<script>alert(1)</script>", "s", {"correct", "correct", "incorrect", "correct", "correct", "no_answer"});
  fixture.add_run("run-b", "model-b", "s", {"incorrect", "incorrect", "correct", "incorrect", "correct", "correct"});
  const std::string page = html::render_leaderboard_page(*fixture.store, {});
  EXPECT_EQ(page.find("<script>alert(1)"), std::string::npos);
  const json data = embedded_data(page);
  ASSERT_EQ(data["rows"].size(), 2u);
  EXPECT_EQ(data["rows"][0]["model"], "<script>alert(1)</script>");  // avg@k 2/3 ahead of 1/2
  for (const auto& row : data["rows"]) {
    EXPECT_EQ(row["samples"], 6);
    EXPECT_NEAR(row["cost_usd"].get<double>(), 0.021, 1e-12);  // 0.001 * (1 + ... + 6)
  }
  ASSERT_EQ(data["histograms"].size(), 2u);
  const json& histogram = data["histograms"][0];
  EXPECT_EQ(histogram["bin_width"], 26);  // longest 600 tokens in 24 bins: ceil(601 / 24)
  int64_t total = 0;
  for (const auto& count : histogram["counts"]) total += count.get<int64_t>();
  EXPECT_EQ(total, 6);
}

TEST(LeaderboardPage, TagFiltersRunsAndAnEmptyStoreStillRenders) {
  ReportStore fixture;
  EXPECT_EQ(embedded_data(html::render_leaderboard_page(*fixture.store, {}))["rows"].size(), 0u);
  fixture.add_run("run-a", "model-a", "s", {"correct", "correct"});
  EXPECT_EQ(embedded_data(html::render_leaderboard_page(*fixture.store, {"nightly", std::nullopt}))["rows"].size(), 0u);
}

TEST(DrilldownPage, CarriesEverySampleWithPromptGoldAndGrading) {
  ReportStore fixture;
  fixture.add_run("run-a", "model-a", "s", {"correct", "incorrect", "correct", "no_answer", "correct", "correct"});
  const std::string page = html::render_drilldown_page(*fixture.store, {{"run-a"}, false});
  EXPECT_EQ(page.find("window.__pwned=1</script>"), std::string::npos);
  EXPECT_EQ(page.find("f(2) == 4 </script>"), std::string::npos);
  const json data = embedded_data(page);
  EXPECT_EQ(data["suite"], "s");
  ASSERT_EQ(data["runs"].size(), 1u);
  EXPECT_TRUE(data["open"]["compare"].is_null());
  ASSERT_EQ(data["samples"].size(), 6u);
  const json& first = data["samples"][0];
  EXPECT_EQ(first["reasoning"], hostile_trace);
  EXPECT_EQ(first["gold"], "gold-p0");  // the sample's own gold, from its stored prompt
  EXPECT_EQ(first["verdict"], "correct");
  EXPECT_EQ(data["samples"][3]["finish_reason"], "length");
  EXPECT_EQ(data["samples"][1]["grading"]["first_failing_test"], "assert f(2) == 4 </script>");
  EXPECT_FALSE(first.contains("grading"));  // "{}": nothing to show
  // Three problems, one prompt each, shared by their two samples.
  ASSERT_EQ(data["prompts"].size(), 3u);
  EXPECT_EQ(data["prompts"][first["prompt"].get<int>()]["prefill"], "<think>\n");
  EXPECT_EQ(data["problems"]["p2"]["metadata"]["subject"], "Algebra");
}

TEST(DrilldownPage, SideBySideNeedsTwoRunsOfOneSuite) {
  ReportStore fixture;
  fixture.add_run("run-a", "model-a", "s", {"correct", "incorrect"});
  fixture.add_run("run-b", "model-b", "s", {"incorrect", "incorrect"});
  fixture.add_run("run-t", "model-a", "t", {"correct", "correct"});
  const json data = json::parse(html::drilldown_page_data(*fixture.store, {{"run-a", "run-b"}, true}));
  EXPECT_EQ(data["open"]["compare"], 1);
  EXPECT_EQ(data["samples"].size(), 4u);
  EXPECT_THROW(html::drilldown_page_data(*fixture.store, {{"run-a", "run-t"}, true}), UserError);
  EXPECT_THROW(html::drilldown_page_data(*fixture.store, {{"run-a"}, true}), UserError);
  EXPECT_THROW(html::drilldown_page_data(*fixture.store, {{"no-such-run"}, false}), UserError);
  EXPECT_THROW(html::drilldown_page_data(*fixture.store, {{}, false}), UserError);
  EXPECT_THROW(html::drilldown_page_data(*fixture.store, {{"run-a", "run-a"}, true}), UserError);
}

TEST(DrilldownPage, KeepsOnlyShortScalarMetadata) {
  ReportStore fixture;
  SuiteRecord suite{"code", "h", {{"c0", "", {{"difficulty", "easy"}, {"tests", json::array({1, 2})},
                                               {"statement", std::string(500, 'x')}}}}};
  const int64_t suite_id = fixture.store->put_suite(suite);
  RunRecord run;
  run.run_id = "run-c";
  fixture.store->begin_run(run, fixture.store->put_model({"m", "replay", "f", "m", {}, {}, {}, ""}), suite_id);
  SampleRecord sample;
  sample.run_id = "run-c";
  sample.problem_id = "c0";
  sample.prompt = "not JSON: shown as text";
  sample.verdict = "incorrect";
  fixture.store->write_sample(sample);
  const json data = json::parse(html::drilldown_page_data(*fixture.store, {{"run-c"}, false}));
  EXPECT_EQ(data["problems"]["c0"]["metadata"], (json{{"difficulty", "easy"}}));
  EXPECT_EQ(data["prompts"][0]["text"], "not JSON: shown as text");
}

TEST(ReportCli, WritesBothPagesAndRejectsBadSelections) {
  ReportStore fixture;
  fixture.add_run("aaaa1111", "model-a", "s", {"correct", "incorrect"});
  fixture.add_run("bbbb2222", "model-b", "s", {"correct", "correct"});
  const std::string db = (fixture.dir / "r.db").string();
  fixture.store.reset();
  const std::string leaderboard = (fixture.dir / "leaderboard.html").string();
  auto result = testing::run_rbench({"report", "leaderboard", "--db", db, "--format", "html", "--output", leaderboard});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("wrote " + leaderboard), std::string::npos);
  EXPECT_EQ(embedded_data(testing::read_file(leaderboard))["rows"].size(), 2u);

  result = testing::run_rbench({"report", "drilldown", "--db", db, "--run", "aaaa", "--compare", "bbbb"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(embedded_data(result.out)["open"]["compare"], 1);
  result = testing::run_rbench({"report", "drilldown", "--db", db, "--suite", "s"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(embedded_data(result.out)["runs"].size(), 2u);

  result = testing::run_rbench({"report", "drilldown", "--db", db});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--run RUN or --suite SUITE"), std::string::npos) << result.err;
  result = testing::run_rbench({"report", "drilldown", "--db", db, "--suite", "nope"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--suite nope"), std::string::npos) << result.err;
  result = testing::run_rbench({"report", "drilldown", "--db", db, "--run", "zzz"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no run 'zzz'"), std::string::npos) << result.err;
  result = testing::run_rbench({"report", "drilldown", "--db", db, "--run", "aaaa", "--output", "/no/such/dir/x.html"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("cannot write /no/such/dir/x.html"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace rbench
