#include "reports/html/drilldown_page.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "reports/html/assets.h"
#include "reports/html/page.h"

namespace rbench::html {

namespace {

using Json = nlohmann::json;

// Problem fields offered as filters and shown with each item: scalars only (code suites keep whole test
// suites in metadata, which would swell the page), and short strings only.
constexpr size_t longest_metadata_text = 200;

Json optional_number(const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); }

std::vector<RunRecord> requested_runs(const Store& store, const DrilldownRequest& request) {
  if (request.run_ids.empty()) throw UserError("drilldown: no runs to show");
  if (request.side_by_side && request.run_ids.size() < 2) {
    throw UserError("drilldown: side by side needs a second run");
  }
  std::vector<RunRecord> runs;
  for (const auto& run_id : request.run_ids) {
    auto run = store.run(run_id);
    if (!run) throw UserError(fmt::format("no run '{}' in {} (see `rbench runs`)", run_id, store.path().string()));
    for (const auto& earlier : runs) {
      if (earlier.run_id == run_id) throw UserError(fmt::format("drilldown: run {} is named twice", run_id));
    }
    if (!runs.empty() && run->suite_name != runs.front().suite_name) {
      throw UserError(fmt::format("drilldown: run {} is of suite {} but run {} is of suite {}; a page shows the "
                                  "runs of one suite",
                                  run->run_id, run->suite_name, runs.front().run_id, runs.front().suite_name));
    }
    runs.push_back(std::move(*run));
  }
  return runs;
}

Json run_json(const RunRecord& run) {
  return {{"run_id", run.run_id},         {"model", run.model_name}, {"backend", run.backend},
          {"suite", run.suite_name},      {"k", run.k},              {"status", run.status},
          {"started_at", run.started_at}, {"tags", run.tags},        {"generation_config", run.generation_config}};
}

Json short_scalar_fields(const Json& metadata) {
  Json fields = Json::object();
  if (!metadata.is_object()) return fields;
  for (const auto& [key, value] : metadata.items()) {
    const bool scalar = value.is_number() || value.is_boolean() ||
                        (value.is_string() && value.get_ref<const std::string&>().size() <= longest_metadata_text);
    if (scalar) fields[key] = value;
  }
  return fields;
}

// Gold and metadata per problem id, over every suite version the runs used.
Json problems_json(const Store& store, const std::vector<RunRecord>& runs) {
  Json problems = Json::object();
  std::set<std::string> seen_versions;
  for (const auto& run : runs) {
    if (!seen_versions.insert(run.suite_hash).second) continue;
    for (const auto& problem : store.problems(run.suite_name, run.suite_hash)) {
      problems[problem.problem_id] = {{"gold", problem.gold}, {"metadata", short_scalar_fields(problem.metadata)}};
    }
  }
  return problems;
}

// Prompts repeat across the k samples of a problem and across runs, so the page keeps each one once.
class PromptTable {
 public:
  // The stored prompt is JSON ({messages, assistant_prefill, gold, ...}); anything else is shown as text.
  int add(const std::string& stored, std::string& gold) {
    Json parsed = Json::parse(stored, nullptr, false);
    Json entry;
    if (parsed.is_object() && parsed.contains("messages")) {
      if (parsed.contains("gold") && parsed["gold"].is_string()) gold = parsed["gold"];
      entry = {{"messages", parsed["messages"]}, {"prefill", parsed.value("assistant_prefill", "")}};
    } else {
      entry = {{"text", stored}};
    }
    const std::string key = entry.dump(-1, ' ', false, Json::error_handler_t::replace);
    const auto [it, added] = index_.try_emplace(key, static_cast<int>(entries_.size()));
    if (added) entries_.push_back(std::move(entry));
    return it->second;
  }
  Json take() { return std::move(entries_); }

 private:
  std::unordered_map<std::string, int> index_;
  Json entries_ = Json::array();
};

Json grading_json(const std::string& stored) {
  Json grading = Json::parse(stored, nullptr, false);
  if (grading.is_discarded()) return Json(stored);  // kept as text rather than lost
  return grading;
}

Json sample_json(const SampleRecord& sample, int run_index, int prompt_index, const std::string& gold) {
  Json out = {{"run", run_index},
              {"problem", sample.problem_id},
              {"index", sample.sample_index},
              {"prompt", prompt_index},
              {"gold", gold},
              {"reasoning", sample.reasoning},
              {"answer", sample.answer},
              {"extracted", sample.extracted},
              {"verdict", sample.error.empty() ? sample.verdict : "error"},
              {"score", sample.score},
              {"finish_reason", sample.finish_reason},
              {"input_tokens", sample.input_tokens},
              {"cached_input_tokens", sample.cached_input_tokens},
              {"output_tokens", sample.output_tokens},
              {"reasoning_tokens", sample.reasoning_tokens},
              {"latency_s", sample.latency_s},
              {"gpu_seconds", optional_number(sample.gpu_seconds)},
              {"cost_usd", optional_number(sample.cost_usd)},
              {"error", sample.error}};
  const Json grading = grading_json(sample.grading);
  if (!grading.empty()) out["grading"] = grading;
  return out;
}

// Writes the page data as script_json() text, one sample at a time: a run of 10k samples with long traces
// makes hundreds of MB, too much to hold as a JSON tree and as text at once. Returns the number of samples.
size_t write_page_data(const Store& store, const std::vector<RunRecord>& runs, bool side_by_side, std::string& out) {
  Json problems = problems_json(store, runs);
  PromptTable prompts;
  std::unordered_set<std::string> sampled_problems;
  size_t count = 0;
  out = "{\"samples\":[";
  for (size_t r = 0; r < runs.size(); ++r) {
    for (const auto& sample : store.samples(runs[r].run_id)) {
      std::string gold = problems.contains(sample.problem_id) ? problems[sample.problem_id]["gold"] : Json("");
      const int prompt_index = prompts.add(sample.prompt, gold);  // a sample's own gold wins (shuffled choices)
      if (count++ > 0) out += ',';
      out += script_json(sample_json(sample, static_cast<int>(r), prompt_index, gold));
      sampled_problems.insert(sample.problem_id);
    }
  }
  // Only the problems the runs reached (a --limit run covers a few of a suite's problems).
  for (auto it = problems.begin(); it != problems.end();) {
    it = sampled_problems.contains(it.key()) ? std::next(it) : problems.erase(it);
  }
  Json runs_json = Json::array();
  for (const auto& run : runs) runs_json.push_back(run_json(run));
  const Json rest = {{"suite", runs.front().suite_name},
                     {"store", store.path().string()},
                     {"generated_at", utc_timestamp()},
                     {"runs", std::move(runs_json)},
                     {"open", {{"run", 0}, {"compare", side_by_side ? Json(1) : Json(nullptr)}}},
                     {"problems", std::move(problems)},
                     {"prompts", prompts.take()}};
  out += "],";
  out.append(script_json(rest), 1);  // its members, after the samples
  return count;
}

}  // namespace

std::string drilldown_page_data(const Store& store, const DrilldownRequest& request) {
  std::string data;
  write_page_data(store, requested_runs(store, request), request.side_by_side, data);
  return data;
}

std::string render_drilldown_page(const Store& store, const DrilldownRequest& request) {
  const std::vector<RunRecord> runs = requested_runs(store, request);
  Page page;
  const size_t samples = write_page_data(store, runs, request.side_by_side, page.data_json);
  const std::string& suite = runs.front().suite_name;
  page.title = runs.size() == 1    ? fmt::format("{} on {}", runs[0].model_name, suite)
               : request.side_by_side ? fmt::format("{} vs {} on {}", runs[0].model_name, runs[1].model_name, suite)
                                      : fmt::format("{}: {} runs", suite, runs.size());
  page.subtitle = fmt::format("{} samples from {}, generated {}", samples, store.path().string(), utc_timestamp());
  page.script = assets::drilldown_js;
  return render_page(page);
}

}  // namespace rbench::html
