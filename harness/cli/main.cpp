// rbench: evaluate reasoning models on benchmark suites, store every sample, report.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "common/error.h"
#include "harness/cli/commands.h"
#include "rbench_version.h"

namespace {

using namespace rbench;

constexpr const char* kDbHelp = "SQLite store (default $RBENCH_DB or ./rbench.db)";

void add_suite_selection(CLI::App& command, int& size, uint64_t& seed, std::string& data_dir) {
  command.add_option("--suite-size", size, "Problems in a generated suite (arith: default 100)");
  command.add_option("--suite-seed", seed, "Seed of a generated suite (arith: default 2024, the evaluation set)");
  command.add_option("--data-dir", data_dir, "Directory holding file-backed suites' data");
}

void add_run(CLI::App& app, cli::RunCommand& command) {
  auto* run = app.add_subcommand("run", "Evaluate a model on a suite; rerunning the same command resumes it");
  run->add_option("--model", command.model, "openai:MODEL@URL | replay:FILE.jsonl | engine:DIR")->required();
  run->add_option("--device", command.backend.engine_device, "Where engine:DIR runs: cpu | cuda")
      ->capture_default_str();
  run->add_option("--suite", command.suite, "Suite name (see `rbench suites list`)")->capture_default_str();
  run->add_option("--samples,-k", command.run.samples, "Samples per problem (k)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  run->add_option("--limit", command.run.limit, "Only the first N problems (0 = all)")->check(CLI::NonNegativeNumber);
  run->add_option("--concurrency", command.run.concurrency, "Requests in flight")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  run->add_option("--temperature", command.run.sampling.temperature, "Sampling temperature")
      ->check(CLI::Range(0.0, 2.0))->capture_default_str();
  run->add_option("--top-p", command.run.sampling.top_p, "Nucleus sampling mass")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  run->add_option("--max-tokens", command.run.sampling.max_tokens, "Most new tokens per sample")
      ->check(CLI::PositiveNumber)->capture_default_str();
  run->add_option("--seed", command.run.seed, "Run seed; per-sample seeds derive from it")->capture_default_str();
  run->add_option("--db", command.db, kDbHelp);
  run->add_option("--tag", command.run.tags, "Tag the run (repeatable), e.g. nightly");
  run->add_option("--prices", command.prices_file, "JSON price table that extends the built-in one");
  run->add_option("--swebench-envs", command.swebench_envs,
                  "Prepared SWE-bench environments (default $RBENCH_SWEBENCH_ENVS; see docs/swebench.md)");
  run->add_option("--gpu-hour-price", command.run.dollars_per_gpu_hour,
                  "$ per GPU-hour, to price self-hosted samples from measured GPU time");
  run->add_option("--api-key-env", command.backend.api_key_env, "Environment variable holding the API key")
      ->capture_default_str();
  run->add_option("--max-retries", command.backend.max_retries, "Retries per request on 429/5xx/timeouts")
      ->capture_default_str();
  run->add_option("--request-timeout", command.backend.request_timeout_s, "Seconds one request may take")
      ->capture_default_str();
  run->add_option("--max-consecutive-errors", command.run.max_consecutive_errors,
                  "Stop the run after this many failed requests in a row")->capture_default_str();
  run->add_flag("!--no-stream", command.backend.stream, "Ask for whole responses instead of streams");
  run->add_option("--progress-interval", command.progress_interval_s,
                  "Seconds between progress lines when stderr is not a terminal")->capture_default_str();
  add_suite_selection(*run, command.suite_size, command.suite_seed, command.data_dir);
}

void add_suites(CLI::App& app, cli::SuitesCommand& command) {
  auto* suites = app.add_subcommand("suites", "List, inspect and export suites");
  suites->require_subcommand(1);
  suites->add_subcommand("list", "List the known suites")->callback([&] { command.action = "list"; });
  auto* show = suites->add_subcommand("show", "Counts, version and a rendered prompt of a suite");
  show->add_option("name", command.name, "Suite name")->required();
  show->callback([&] { command.action = "show"; });
  add_suite_selection(*show, command.suite_size, command.suite_seed, command.data_dir);
  auto* exported = suites->add_subcommand("export", "Print a suite's problems as JSONL");
  exported->add_option("name", command.name, "Suite name")->required();
  exported->add_option("--limit", command.limit, "Only the first N problems");
  exported->add_flag("--as-replay", command.as_replay,
                     "Print gold answers (with reference solutions as reasoning) as completions for `--model replay:FILE`");
  exported->add_option("--samples,-k", command.samples, "With --as-replay: completions per problem");
  exported->callback([&] { command.action = "export"; });
  add_suite_selection(*exported, command.suite_size, command.suite_seed, command.data_dir);
}

void add_grade(CLI::App& app, cli::GradeCommand& command) {
  auto* grade = app.add_subcommand("grade", "Grade one answer, or a JSONL file of {gold, pred} lines");
  grade->add_option("--scorer", command.scorer, "Scorer: math | mc | code")->capture_default_str();
  auto* gold = grade->add_option("--gold", command.gold, "Gold answer");
  auto* pred = grade->add_option("--pred", command.pred, "Model response");
  auto* jsonl = grade->add_option(
      "--jsonl", command.jsonl, "File of {\"gold\":..,\"pred\":..} lines (code: {\"pred\":..,\"material\":..})");
  jsonl->excludes(gold)->excludes(pred);
  gold->needs(pred);
  pred->needs(gold);
}

void add_leaderboard_options(CLI::App& command, cli::ReportCommand& report) {
  command.add_option("--db", report.db, kDbHelp);
  command.add_option("--tag", report.tag, "Only runs with this tag");
  command.add_option("--format", report.format, "table | markdown | csv | json | html (a self-contained page)")
      ->capture_default_str();
  command.add_option("--output", report.output, "Write to this file instead of stdout");
  command.add_option("--gpu-hour-price", report.dollars_per_gpu_hour,
                     "$ per GPU-hour, to price samples that have GPU time but no recorded cost");
}

void add_drilldown(CLI::App& report, cli::ReportCommand& command, CLI::App*& drilldown) {
  drilldown = report.add_subcommand(
      "drilldown", "HTML page to browse every sample of a run (or two side by side, or a suite's runs)");
  drilldown->add_option("--db", command.db, kDbHelp);
  auto* run = drilldown->add_option("--run", command.run, "Run id (or a unique prefix)");
  drilldown->add_option("--compare", command.compare_run, "A second run of the same suite, shown side by side")
      ->needs(run);
  auto* suite = drilldown->add_option("--suite", command.suite, "Every run of this suite instead of --run");
  drilldown->add_option("--tag", command.tag, "With --suite: only runs with this tag")->needs(suite);
  drilldown->add_option("--output", command.output, "Write the page to this file instead of stdout");
  run->excludes(suite);
}

void add_reports(CLI::App& app, cli::ReportCommand& command, CLI::App*& report, CLI::App*& drilldown,
                 CLI::App*& runs) {
  report = app.add_subcommand("report", "Leaderboard of the runs in the store, or a drill-down page of samples");
  add_leaderboard_options(*report, command);
  add_leaderboard_options(*report->add_subcommand("leaderboard", "The leaderboard (what `report` alone gives)"),
                          command);
  auto* traces = report->add_subcommand("traces", "Reasoning-trace metrics per run: think length, truncation, "
                                                  "format compliance, language mixing, reflection markers");
  add_leaderboard_options(*traces, command);
  traces->callback([&command] { command.view = "traces"; });
  add_drilldown(*report, command, drilldown);
  runs = app.add_subcommand("runs", "List the runs in the store");
  runs->add_option("--db", command.db, kDbHelp);
  runs->add_option("--tag", command.tag, "Only runs with this tag");
}

constexpr const char* kSelectorHelp = "run id, tag, model name, or a unique run-id prefix";

void add_compare(CLI::App& app, cli::CompareCommand& command, CLI::App*& compare) {
  compare = app.add_subcommand("compare", "Paired comparison of two runs (or tags, or models: suite by suite, "
                                          "Holm-adjusted) on the items they share");
  compare->add_option("a", command.run_a, std::string("Baseline: ") + kSelectorHelp)->required();
  compare->add_option("b", command.run_b, std::string("Challenger: ") + kSelectorHelp)->required();
  compare->add_option("--db", command.db, kDbHelp);
  compare->add_option("--cluster-by", command.cluster_by,
                      "Problem-metadata field that groups items (clustered SE), auto or none")->capture_default_str();
  compare->add_option("--suite", command.suite, "Only this suite");
  compare->add_option("--resamples", command.resamples, "Sign-flip and bootstrap resamples")
      ->check(CLI::Range(100, 10000000))->capture_default_str();
  compare->add_option("--seed", command.seed, "Resampling seed")->capture_default_str();
}

CLI::App* add_gate(CLI::App& app, cli::GateCommand& command) {
  auto* gate = app.add_subcommand("gate", "Non-inferiority gate of a candidate against a baseline: "
                                          "exit 0 pass, 1 regression, 2 error");
  gate->add_option("--baseline", command.baseline, std::string("Baseline: ") + kSelectorHelp)->required();
  gate->add_option("--candidate", command.candidate, std::string("Candidate: ") + kSelectorHelp)->required();
  gate->add_option("--margin", command.margin, "Largest drop tolerated, on the score scale (0.02 = 2 points)")
      ->required();
  gate->add_option("--alpha", command.alpha, "One-sided significance level")->capture_default_str();
  gate->add_option("--markdown", command.markdown, "Write a Markdown summary (for a CI comment) to this file");
  gate->add_option("--cluster-by", command.cluster_by,
                   "Problem-metadata field that groups items (clustered SE), auto or none")->capture_default_str();
  gate->add_option("--db", command.db, kDbHelp);
  return gate;
}

CLI::App* add_sandbox(CLI::App& app, cli::SandboxCommand& command) {
  auto* sandbox = app.add_subcommand("sandbox", "Run untrusted programs in the sandbox");
  sandbox->require_subcommand(1);
  auto* run = sandbox->add_subcommand(
      "run", "Run one program isolated and limited; print its status, output and resources as JSON "
             "(exit 0 whatever the program did, 1 if the sandbox could not be set up)");
  run->add_option("--lang", command.language, "python | cpp")->required();
  run->add_option("--file", command.file, "The program's source file")->required();
  run->add_option("--stdin", command.stdin_file, "File given to the program as its standard input");
  run->add_option("--time-limit", command.time_limit_s, "CPU seconds (the wall clock allows twice that + 1)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  run->add_option("--memory-limit", command.memory_limit_mb, "Megabytes")->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_flag("--unsafe-no-sandbox", command.unsafe_no_sandbox,
                "Run WITHOUT isolation (limits only), for machines that cannot isolate; never the default");
  return run;
}

void add_engine_commands(CLI::App& app, cli::EngineCommand& command, CLI::App*& tokenize, CLI::App*& forward,
                         CLI::App*& generate) {
  tokenize = app.add_subcommand("tokenize", "Token ids of a text (no special tokens added), or the text of ids");
  tokenize->add_option("--tokenizer", command.tokenizer, "tokenizer.json or a model directory")->required();
  auto* text = tokenize->add_option("--text", command.text, "Text to encode");
  auto* file = tokenize->add_option("--text-file", command.text_file, "File whose text to encode");
  auto* decode = tokenize->add_option("--decode", command.decode_ids, "Comma-separated ids to decode");
  text->excludes(file)->excludes(decode);
  file->excludes(decode);

  forward = app.add_subcommand("forward", "Logits of every position, as JSON (float32 math)");
  forward->add_option("--model", command.model, "Model directory (config.json + safetensors)")->required();
  forward->add_option("--ids", command.ids, "Comma-separated input ids")->required();
  forward->add_option("--device", command.device, "cpu | cuda")->capture_default_str();

  generate = app.add_subcommand("generate", "Generate new tokens with the built-in engine");
  generate->add_option("--model", command.model, "Model directory")->required();
  auto* ids = generate->add_option("--ids", command.ids, "Comma-separated prompt ids");
  auto* prompt = generate->add_option("--prompt", command.prompt, "Prompt text");
  ids->excludes(prompt);
  generate->add_flag("--chat", command.chat, "Render --prompt as a user turn of the model's chat template")
      ->needs(prompt);
  generate->add_option("--max-tokens", command.max_tokens, "Most new tokens")->capture_default_str();
  auto* greedy = generate->add_flag("--greedy", command.greedy, "Argmax decoding");
  generate->add_option("--temperature", command.temperature, "Sampling temperature")
      ->excludes(greedy)->capture_default_str();
  generate->add_option("--top-p", command.top_p, "Nucleus sampling mass")->excludes(greedy)->capture_default_str();
  generate->add_option("--seed", command.seed, "Sampling seed")->capture_default_str();
  generate->add_flag("--ignore-eos", command.ignore_eos, "Do not stop at end-of-sequence tokens");
  generate->add_option("--device", command.device, "cpu | cuda")->capture_default_str();
}

CLI::App* add_bench(CLI::App& app, cli::BenchCommand& command) {
  auto* bench =
      app.add_subcommand("bench", "Engine prefill and decode tokens/s beside the HBM roofline, as JSON lines");
  auto* model = bench->add_option("--model", command.model, "Checkpoint directory");
  auto* shape = bench->add_option("--shape", command.shape,
                                  "Random weights in a known shape: r1-distill-qwen-1.5b (= qwen2-1.5b) | "
                                  "r1-distill-qwen-7b (= qwen2-7b) | qwen3-30b-a3b");
  model->excludes(shape);
  bench->add_option("--device", command.device, "cuda | cpu (cpu needs --model)")->capture_default_str();
  bench->add_option("--batch", command.batches, "Sequences decoded together; comma-separated for several runs")
      ->capture_default_str();
  bench->add_option("--prompt", command.prompt, "Prompt tokens per sequence")
      ->check(CLI::PositiveNumber)->capture_default_str();
  bench->add_option("--gen", command.gen, "Generated tokens per sequence")
      ->check(CLI::PositiveNumber)->capture_default_str();
  bench->add_option("--seed", command.seed, "Seed of the random weights and prompts")->capture_default_str();
  bench->add_flag("!--no-cuda-graphs", command.cuda_graphs, "Launch every decode step's kernels one by one");
  bench->add_flag("--profile", command.profile,
                  "Also GPU milliseconds per op family of a decode step (CUDA): timed eagerly with events, and "
                  "what each family costs inside the graph (the step time saved with it switched off)");
  bench->add_option("--temperature", command.temperature,
                    "Sample every sequence at this temperature (0: greedy, as the peer script decodes)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--top-p", command.top_p, "Nucleus sampling mass when sampling")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  return bench;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rbench: evaluation harness for reasoning models"};
  app.set_version_flag("--version", fmt::format("rbench {} ({})", RBENCH_VERSION, RBENCH_GIT_REVISION));
  app.require_subcommand(1);

  cli::RunCommand run_command;
  cli::SuitesCommand suites_command;
  cli::GradeCommand grade_command;
  cli::ReportCommand report_command;
  std::string prices_file;
  CLI::App *report = nullptr, *drilldown = nullptr, *runs = nullptr;
  add_run(app, run_command);
  add_suites(app, suites_command);
  add_grade(app, grade_command);
  add_reports(app, report_command, report, drilldown, runs);
  cli::CompareCommand compare_command;
  CLI::App* compare = nullptr;
  add_compare(app, compare_command, compare);
  cli::GateCommand gate_command;
  auto* gate = add_gate(app, gate_command);
  auto* prices = app.add_subcommand("prices", "Show the dated price table ($ per million tokens)");
  prices->add_option("--prices", prices_file, "JSON price table that extends the built-in one");
  auto* env = app.add_subcommand("env", "Version, host, CPU threads and GPUs, as JSON");
  cli::EngineCommand engine_command;
  CLI::App *tokenize = nullptr, *forward = nullptr, *generate = nullptr;
  add_engine_commands(app, engine_command, tokenize, forward, generate);
  cli::BenchCommand bench_command;
  auto* bench = add_bench(app, bench_command);
  cli::SandboxCommand sandbox_command;
  auto* sandbox_run = add_sandbox(app, sandbox_command);

  CLI11_PARSE(app, argc, argv);
  try {
    if (app.got_subcommand("run")) return cli::run(run_command);
    if (app.got_subcommand("suites")) return cli::suites(suites_command);
    if (app.got_subcommand("grade")) return cli::grade(grade_command);
    if (drilldown->parsed()) return cli::drilldown(report_command);
    if (report->parsed()) return cli::report(report_command);
    if (runs->parsed()) return cli::runs(report_command);
    if (compare->parsed()) return cli::compare(compare_command);
    if (gate->parsed()) return cli::gate(gate_command);
    if (prices->parsed()) return cli::prices(prices_file);
    if (env->parsed()) return cli::environment();
    if (tokenize->parsed()) return cli::tokenize(engine_command);
    if (forward->parsed()) return cli::forward(engine_command);
    if (generate->parsed()) return cli::generate(engine_command);
    if (bench->parsed()) return cli::bench(bench_command);
    if (sandbox_run->parsed()) return cli::sandbox_run(sandbox_command);
  } catch (const UserError& e) {
    fmt::print(stderr, "rbench: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "rbench: internal error: {}\n", e.what());
    return 3;
  }
  return 0;
}
