#include "scorers/swebench_scorer.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <semaphore>
#include <thread>

#include "common/error.h"
#include "sandbox/sandbox.h"
#include "scorers/patch.h"
#include "scorers/swebench_log.h"

namespace rbench::swebench {

namespace fs = std::filesystem;

namespace {

constexpr size_t log_tail_bytes = 4000;
constexpr double default_timeout_s = 1800;  // the SWE-bench harness's default --timeout
constexpr int64_t default_memory_mb = 8192;
constexpr int default_max_processes = 512;
constexpr const char* setup_help = "see docs/swebench.md";

// Test-patch files that are data, not tests (SWE-bench's NON_TEST_EXTS, "csv" without its dot as there).
constexpr std::array<std::string_view, 11> non_test_suffixes{".json", ".png", "csv",  ".txt",  ".md",  ".jpg",
                                                             ".jpeg", ".pkl", ".yml", ".yaml", ".toml"};

// What the dataset says of one instance (Problem::metadata of the swebench_verified suite).
struct Instance {
  std::string repository;  // "django/django"
  std::string version;     // "3.1"
  std::string base_commit;
  std::string test_patch;
  std::vector<std::string> fail_to_pass;
  std::vector<std::string> pass_to_pass;
};

enum class DirectiveStyle { paths, django_modules };

// A prepared environment for one repository and version, with env.json applied over the defaults.
struct Environment {
  fs::path dir;
  fs::path clone;  // dir/repo
  std::string python;
  std::vector<std::string> test_command;     // "{python}" already replaced
  std::vector<std::string> install_command;  // empty: none
  LogParser parser = LogParser::pytest;
  DirectiveStyle directives = DirectiveStyle::paths;
  std::vector<std::string> python_path;  // directories of the checkout, relative to its root
  std::map<std::string, std::string> variables;
  std::vector<std::string> read_only_paths;
  sandbox::Limits limits;
};

// How the SWE-bench harness tests a repository (its test_cmd per repository, and where the package lives
// when it is not at the repository root: the prepared environment runs the checkout through PYTHONPATH).
struct RepositoryDefaults {
  std::vector<std::string> test_command;
  DirectiveStyle directives = DirectiveStyle::paths;
  std::vector<std::string> python_path{"."};
  std::map<std::string, std::string> variables;
};

RepositoryDefaults defaults_for(std::string_view repository) {
  RepositoryDefaults defaults;
  defaults.test_command = {"{python}", "-m", "pytest", "-rA", "--tb=no", "-p", "no:cacheprovider"};
  if (repository == "django/django") {
    defaults.test_command = {
        "{python}", "tests/runtests.py", "--verbosity", "2", "--settings=test_sqlite", "--parallel", "1"};
    defaults.directives = DirectiveStyle::django_modules;
  } else if (repository == "sympy/sympy") {
    defaults.test_command = {"{python}", "bin/test", "-C", "--verbose"};
    defaults.variables["PYTHONWARNINGS"] = "ignore::UserWarning,ignore::SyntaxWarning";
  } else if (repository == "matplotlib/matplotlib") {
    defaults.python_path = {"lib"};
  } else if (repository == "pytest-dev/pytest" || repository == "pallets/flask" ||
             repository == "marshmallow-code/marshmallow" || repository == "sqlfluff/sqlfluff") {
    defaults.python_path = {"src"};
  }
  return defaults;
}

// A JSON object read from a file or the problem material; every error names the source and the field.
class Fields {
 public:
  Fields(nlohmann::json object, std::string source) : object_(std::move(object)), source_(std::move(source)) {
    if (!object_.is_object()) throw UserError(fmt::format("{}: expected a JSON object", source_));
  }
  bool has(const char* key) const { return object_.contains(key) && !object_[key].is_null(); }
  std::string text(const char* key) const {
    if (!has(key) || !object_[key].is_string()) fail(key, "a string");
    return object_[key].get<std::string>();
  }
  // A list of strings; the Hugging Face files hold FAIL_TO_PASS as JSON text, so that is read too.
  std::vector<std::string> texts(const char* key) const {
    if (!has(key)) fail(key, "a list of strings");
    nlohmann::json value = object_[key];
    if (value.is_string()) value = nlohmann::json::parse(value.get<std::string>(), nullptr, false);
    if (!value.is_array()) fail(key, "a list of strings");
    std::vector<std::string> out;
    for (const auto& item : value) {
      if (!item.is_string()) fail(key, "a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!object_[key].is_number() || object_[key].get<double>() <= 0) fail(key, "a positive number");
    return object_[key].get<double>();
  }
  std::map<std::string, std::string> text_map(const char* key) const {
    std::map<std::string, std::string> out;
    if (!has(key)) return out;
    if (!object_[key].is_object()) fail(key, "an object of strings");
    for (const auto& [name, value] : object_[key].items()) {
      if (!value.is_string()) fail(key, "an object of strings");
      out[name] = value.get<std::string>();
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const char* key, const char* expected) const {
    throw UserError(fmt::format("{}: field '{}' must be {}", source_, key, expected));
  }
  nlohmann::json object_;
  std::string source_;
};

Instance read_instance(const nlohmann::json& material) {
  const Fields fields(material, "SWE-bench problem metadata");
  return {fields.text("repository"), fields.text("version"),       fields.text("base_commit"),
          fields.text("test_patch"), fields.texts("FAIL_TO_PASS"), fields.texts("PASS_TO_PASS")};
}

bool is_plain_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// <environments>/<owner>__<repo>/<version>
fs::path environment_dir(const fs::path& environments, const Instance& instance) {
  const size_t slash = instance.repository.find('/');
  const std::string owner = instance.repository.substr(0, slash);
  const std::string name = slash == std::string::npos ? "" : instance.repository.substr(slash + 1);
  if (!is_plain_name(owner) || !is_plain_name(name) || !is_plain_name(instance.version)) {
    throw UserError(
        fmt::format("SWE-bench problem metadata: repository '{}' or version '{}' is not a plain "
                    "owner/name and version",
                    instance.repository, instance.version));
  }
  return environments / (owner + "__" + name) / instance.version;
}

Fields read_env_json(const fs::path& path) {
  if (!fs::exists(path)) return Fields(nlohmann::json::object(), path.string());
  std::ifstream in(path);
  const auto parsed = nlohmann::json::parse(in, nullptr, false);
  if (parsed.is_discarded()) throw UserError(fmt::format("{}: not valid JSON", path.string()));
  return Fields(parsed, path.string());
}

std::vector<std::string> with_python(std::vector<std::string> command, const std::string& python) {
  for (auto& arg : command) {
    if (arg == "{python}") arg = python;
  }
  return command;
}

// What the sandbox must show read-only: the interpreter's prefix (a venv) and the prefix of the
// interpreter it links to (a venv's base Python), the clone's objects (the checkout borrows them) and any
// paths env.json adds.
std::vector<std::string> read_only_paths_for(const fs::path& python, const fs::path& clone,
                                             const std::vector<std::string>& extra, const std::string& source) {
  std::vector<std::string> paths;
  const auto add = [&](const fs::path& path) {
    if (path.has_relative_path() && std::find(paths.begin(), paths.end(), path.string()) == paths.end()) {
      paths.push_back(path.string());
    }
  };
  add(python.parent_path().parent_path());
  add(fs::canonical(python).parent_path().parent_path());
  add(fs::canonical(clone / ".git" / "objects"));
  for (const auto& path : extra) {
    if (!fs::path(path).is_absolute() || !fs::exists(path)) {
      throw UserError(fmt::format("{}: read_only_paths entry '{}' must be an existing absolute path", source, path));
    }
    add(path);
  }
  return paths;
}

Environment load_environment(const fs::path& environments, const Instance& instance) {
  Environment env;
  env.dir = environment_dir(environments, instance);
  env.clone = env.dir / "repo";
  if (!fs::is_directory(env.clone / ".git" / "objects")) {
    throw UserError(fmt::format("no SWE-bench environment for {} {}: looked for a git clone at {} ({})",
                                instance.repository, instance.version, env.clone.string(), setup_help));
  }
  const fs::path config_path = env.dir / "env.json";
  const Fields config = read_env_json(config_path);
  const RepositoryDefaults defaults = defaults_for(instance.repository);

  const fs::path python = fs::absolute(env.dir / (config.has("python") ? config.text("python") : "venv/bin/python"));
  if (!fs::exists(python)) {
    throw UserError(
        fmt::format("SWE-bench environment for {} {}: no Python interpreter at {} (create the venv, or "
                    "name the interpreter as \"python\" in {}; {})",
                    instance.repository, instance.version, python.string(), config_path.string(), setup_help));
  }
  env.python = python.lexically_normal().string();
  env.test_command =
      with_python(config.has("test_command") ? config.texts("test_command") : defaults.test_command, env.python);
  if (env.test_command.empty()) throw UserError(fmt::format("{}: field 'test_command' is empty", config_path.string()));
  if (config.has("install_command")) env.install_command = with_python(config.texts("install_command"), env.python);
  env.parser = config.has("log_parser") ? parse_log_parser_name(config.text("log_parser"))
                                        : log_parser_for_repository(instance.repository);
  env.directives = defaults.directives;
  if (config.has("test_directives")) {
    const std::string style = config.text("test_directives");
    if (style != "paths" && style != "django_modules") {
      throw UserError(fmt::format("{}: field 'test_directives' must be \"paths\" or \"django_modules\", not '{}'",
                                  config_path.string(), style));
    }
    env.directives = style == "paths" ? DirectiveStyle::paths : DirectiveStyle::django_modules;
  }
  env.python_path = config.has("python_path") ? config.texts("python_path") : defaults.python_path;
  env.variables = defaults.variables;
  for (auto& [name, value] : config.text_map("env")) env.variables[name] = value;
  env.read_only_paths = read_only_paths_for(
      python, env.clone, config.has("read_only_paths") ? config.texts("read_only_paths") : std::vector<std::string>{},
      config_path.string());

  const double timeout_s = config.number("timeout_s", default_timeout_s);
  env.limits.wall_seconds = timeout_s;
  env.limits.cpu_seconds = timeout_s;
  env.limits.memory_mb = static_cast<int64_t>(config.number("memory_mb", default_memory_mb));
  env.limits.max_processes = static_cast<int>(config.number("max_processes", default_max_processes));
  env.limits.file_size_bytes = int64_t{1} << 30;
  env.limits.open_files = 4096;
  env.limits.output_bytes = int64_t{16} << 20;
  env.limits.work_dir_mb = 1024;
  return env;
}

// What follows the test command: the files the test patch touches (data files left out), or for Django
// their test modules ("tests/auth_tests/test_forms.py" -> "auth_tests.test_forms").
std::vector<std::string> test_directives(const Instance& instance, DirectiveStyle style) {
  std::vector<std::string> directives;
  for (const auto& file : patched_files(instance.test_patch)) {
    std::string path = file.new_path.empty() ? file.old_path : file.new_path;
    if (std::any_of(non_test_suffixes.begin(), non_test_suffixes.end(),
                    [&](std::string_view suffix) { return path.ends_with(suffix); })) {
      continue;
    }
    if (style == DirectiveStyle::django_modules) {
      if (path.ends_with(".py")) path.resize(path.size() - 3);
      if (path.starts_with("tests/")) path.erase(0, 6);
      std::replace(path.begin(), path.end(), '/', '.');
    }
    directives.push_back(path);
  }
  return directives;
}

// A fresh checkout of a prepared clone at base_commit, in a private temporary directory, deleted with
// everything in it when the object dies. Files the clone holds beyond git's (compiled extensions built in
// place) come along; git objects are borrowed from the clone (objects/info/alternates), not copied.
class Checkout {
 public:
  Checkout(const fs::path& scratch, const fs::path& clone, const std::string& base_commit) {
    std::string pattern = ((scratch.empty() ? fs::temp_directory_path() : scratch) / "rbench-swebench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw UserError(fmt::format("cannot create a SWE-bench checkout at {}: {}", pattern, std::strerror(errno)));
    }
    path_ = pattern;
    copy_entries(clone, path_, ".git");
    fs::create_directory(path_ / ".git");
    copy_entries(clone / ".git", path_ / ".git", "objects");
    // The copies keep their modification times but not their inodes; without this git would re-read every
    // file (a second for Django) to find that nothing changed.
    std::ofstream(path_ / ".git" / "config", std::ios::app) << "[core]\n\tcheckStat = minimal\n\ttrustctime = false\n";
    fs::create_directories(path_ / ".git" / "objects" / "info");
    std::ofstream(path_ / ".git" / "objects" / "info" / "alternates")
        << fs::canonical(clone / ".git" / "objects").string() << "\n";
    const ToolRun checkout = run_tool({"git", "checkout", "--quiet", "--force", "--detach", base_commit}, path_);
    if (checkout.exit_code != 0) {
      throw UserError(fmt::format("the SWE-bench clone {} cannot check out base_commit {} (fetch it there; {}): {}",
                                  clone.string(), base_commit, setup_help, checkout.output));
    }
  }
  ~Checkout() {
    std::error_code error;
    if (fs::remove_all(path_, error) != static_cast<std::uintmax_t>(-1) && !error) return;
    // Tests may leave directories without write permission; a second pass after restoring it.
    for (auto it = fs::recursive_directory_iterator(path_, error); !error && it != fs::recursive_directory_iterator();
         it.increment(error)) {
      if (it->is_directory(error) && !it->is_symlink(error)) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, error);
      }
    }
    fs::remove_all(path_, error);
  }
  Checkout(const Checkout&) = delete;
  Checkout& operator=(const Checkout&) = delete;
  const fs::path& path() const { return path_; }

 private:
  static void copy_entries(const fs::path& from, const fs::path& to, std::string_view skipped) {
    std::vector<std::string> argv{"cp", "-a", "--reflink=auto", "--no-preserve=ownership"};
    for (const auto& entry : fs::directory_iterator(from)) {
      if (entry.path().filename() != skipped) argv.push_back(entry.path().string());
    }
    if (argv.size() == 4) return;
    argv.push_back(to.string() + "/");
    const ToolRun copy = run_tool(argv, to);
    if (copy.exit_code != 0) {
      throw UserError(fmt::format("copying the SWE-bench clone {} failed: {}", from.string(), copy.output));
    }
  }

  fs::path path_;
};

// Files the test patch touches go back to base_commit (a model may have edited them, or written a new
// test file itself), then the test patch is applied. The error text, or nullopt.
std::optional<std::string> install_test_patch(const fs::path& checkout, const Instance& instance) {
  std::vector<std::string> reset{"git", "checkout", instance.base_commit, "--"};
  for (const auto& file : patched_files(instance.test_patch)) {
    if (!file.old_path.empty()) {
      reset.push_back(file.old_path);
    } else if (!file.new_path.empty()) {
      std::error_code ignored;
      fs::remove_all(checkout / file.new_path, ignored);
    }
  }
  if (reset.size() > 4) {
    const ToolRun run = run_tool(reset, checkout);
    if (run.exit_code != 0) return "resetting the test files to base_commit failed:\n" + run.output;
  }
  if (auto error = apply_trusted_patch(checkout, instance.test_patch))
    return "the test patch did not apply:\n" + *error;
  return std::nullopt;
}

sandbox::Result run_sandboxed(const Environment& env, const fs::path& checkout, const std::vector<std::string>& argv) {
  std::map<std::string, std::string> variables{
      {"PATH", fs::path(env.python).parent_path().string() + ":/usr/local/bin:/usr/bin:/bin"},
      {"HOME", "/tmp"},
      {"LANG", "C.UTF-8"},
      {"TZ", "UTC"}};
  std::string python_path;
  for (const auto& dir : env.python_path) {
    python_path += (python_path.empty() ? "" : ":") + (checkout / dir).lexically_normal().string();
  }
  variables["PYTHONPATH"] = python_path;
  for (const auto& [name, value] : env.variables) variables[name] = value;

  sandbox::RunSpec spec;
  spec.argv = argv;
  spec.host_work_dir = checkout.string();
  spec.read_only_paths = env.read_only_paths;
  spec.env.assign(variables.begin(), variables.end());
  spec.limits = env.limits;
  sandbox::Result result = sandbox::run(spec);
  if (result.status == sandbox::Status::setup_error) {
    throw UserError("SWE-bench tests cannot run: the sandbox could not be set up: " + result.message);
  }
  return result;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

// The output of a sandboxed run as one log (Django's runner writes its results to stderr).
std::string log_of(const sandbox::Result& result) {
  std::string log = result.stdout_data;
  if (!result.stderr_data.empty()) log += (log.empty() || log.ends_with('\n') ? "" : "\n") + result.stderr_data;
  return log;
}

// nlohmann::json refuses to dump invalid UTF-8, and test output may hold any bytes.
std::string valid_utf8(std::string_view text) {
  const std::string dumped = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(dumped).get<std::string>();
}

std::string tail(std::string_view text) {
  if (text.size() <= log_tail_bytes) return valid_utf8(text);
  text.remove_prefix(text.size() - log_tail_bytes);
  while (!text.empty() && (static_cast<unsigned char>(text.front()) & 0xC0) == 0x80) text.remove_prefix(1);
  return "..." + valid_utf8(text);
}

// What happened to one sample.
struct Evaluation {
  std::string status;
  std::string message;  // why, for statuses not graded by tests
  std::string patch_apply;
  std::optional<TestsReport> report;
  std::optional<int> exit_code;
  std::string test_command;
  int64_t wall_ms = 0;
  std::string log;
};

Evaluation unfinished(std::string status, std::string message, std::string log = "") {
  Evaluation evaluation;
  evaluation.status = std::move(status);
  evaluation.message = std::move(message);
  evaluation.log = std::move(log);
  return evaluation;
}

// A sandbox run that ended without a gradable log: the evaluation saying so, or nullopt.
std::optional<Evaluation> ended_abnormally(const sandbox::Result& result, std::string_view what) {
  if (result.status == sandbox::Status::timeout) {
    return unfinished("timeout", fmt::format("{} ran past its time limit: {}", what, result.message), log_of(result));
  }
  if (result.status == sandbox::Status::ok || result.status == sandbox::Status::runtime_error) return std::nullopt;
  return unfinished("tests_errored",
                    fmt::format("{} ended with {}: {}", what, sandbox::status_name(result.status), result.message),
                    log_of(result));
}

Evaluation evaluate(const Environment& env, const Instance& instance, const fs::path& checkout,
                    const std::string& patch) {
  PatchApplication application = apply_untrusted_patch(checkout, patch);
  if (application.outcome == PatchApplication::Outcome::refused) return unfinished("patch_refused", application.log);
  if (application.outcome == PatchApplication::Outcome::failed) {
    return unfinished("patch_failed", "no method applied the patch", std::move(application.log));
  }
  if (auto error = install_test_patch(checkout, instance)) return unfinished("tests_errored", *error);
  if (!env.install_command.empty()) {
    const sandbox::Result install = run_sandboxed(env, checkout, env.install_command);
    if (auto ended = ended_abnormally(install, "the install command")) return *ended;
    if (install.exit_code != 0) {
      return unfinished("tests_errored", fmt::format("the install command exited with {}", install.exit_code),
                        log_of(install));
    }
  }

  std::vector<std::string> argv = env.test_command;
  for (auto& directive : test_directives(instance, env.directives)) argv.push_back(std::move(directive));
  const sandbox::Result result = run_sandboxed(env, checkout, argv);
  Evaluation evaluation;
  if (auto ended = ended_abnormally(result, "the test command")) evaluation = std::move(*ended);
  evaluation.patch_apply = application.method;
  evaluation.test_command = joined(argv);
  evaluation.wall_ms = result.wall_ms;
  evaluation.log = log_of(result);
  if (!evaluation.status.empty()) return evaluation;

  // A signal (a crashed interpreter) counts as a non-zero exit for the spoofing check.
  evaluation.exit_code = result.signal != 0 ? 128 + result.signal : result.exit_code;
  const StatusMap statuses = parse_test_log(env.parser, evaluation.log);
  if (auto reason = invalid_log_reason(statuses, *evaluation.exit_code)) {
    evaluation.status = "invalid_log";
    evaluation.message = *reason;
    return evaluation;
  }
  evaluation.report = grade_tests(statuses, instance.fail_to_pass, instance.pass_to_pass);
  switch (resolution(*evaluation.report)) {
    case Resolution::full: evaluation.status = "resolved"; break;
    case Resolution::partial: evaluation.status = "partial"; break;
    case Resolution::no: evaluation.status = "unresolved"; break;
  }
  return evaluation;
}

nlohmann::json group_json(const TestGroupReport& group) { return {{"passed", group.passed}, {"failed", group.failed}}; }

Verdict verdict_of(const Evaluation& evaluation) {
  Verdict verdict;
  verdict.correct = evaluation.status == "resolved";
  verdict.score = verdict.correct ? 1.0 : 0.0;
  verdict.verdict = verdict.correct ? "correct" : evaluation.status == "no_patch" ? "no_answer" : "incorrect";
  auto& details = verdict.details;
  details["status"] = evaluation.status;
  if (!evaluation.message.empty()) details["message"] = tail(evaluation.message);
  if (evaluation.report) {
    details["f2p"] = group_json(evaluation.report->fail_to_pass);
    details["p2p"] = group_json(evaluation.report->pass_to_pass);
  }
  if (!evaluation.patch_apply.empty()) details["patch_apply"] = evaluation.patch_apply;
  if (evaluation.exit_code) details["exit_code"] = *evaluation.exit_code;
  if (!evaluation.test_command.empty()) {
    details["test_command"] = valid_utf8(evaluation.test_command);
    details["wall_ms"] = evaluation.wall_ms;
  }
  if (!evaluation.log.empty()) details["log_tail"] = tail(evaluation.log);
  return verdict;
}

// Holds one of the scorer's evaluation slots for its lifetime.
class Slot {
 public:
  explicit Slot(std::counting_semaphore<>& slots) : slots_(slots) { slots_.acquire(); }
  ~Slot() { slots_.release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::counting_semaphore<>& slots_;
};

class SwebenchScorer final : public Scorer {
 public:
  explicit SwebenchScorer(const ScorerOptions& options)
      : options_{fs::absolute(options.environments),
                 options.scratch.empty() ? fs::path() : fs::absolute(options.scratch), options.max_parallel_runs},
        slots_(options.max_parallel_runs > 0 ? options.max_parallel_runs
                                             : std::max(1u, std::thread::hardware_concurrency())) {}

  std::string name() const override { return "swebench"; }

  void check_material(const nlohmann::json& material) const override {
    load_environment(options_.environments, read_instance(material));
  }

  Verdict grade(const Submission& submission) const override {
    const Instance instance = read_instance(submission.material);
    const Environment env = load_environment(options_.environments, instance);
    const auto patch = extract_patch(submission.response);
    if (!patch) return verdict_of(unfinished("no_patch", "the response holds no diff"));
    const Slot slot(slots_);
    const Checkout checkout(options_.scratch, env.clone, instance.base_commit);
    Verdict verdict = verdict_of(evaluate(env, instance, checkout.path(), *patch));
    verdict.extracted = *patch;
    return verdict;
  }

 private:
  const ScorerOptions options_;
  mutable std::counting_semaphore<> slots_;
};

int parse_jobs(const char* text) {
  int value = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc() || stop != end || value < 1) {
    throw UserError(fmt::format("RBENCH_SWEBENCH_JOBS must be a positive number of samples, not '{}'", text));
  }
  return value;
}

}  // namespace

ScorerOptions options_from_environment(const fs::path& environments) {
  ScorerOptions options;
  options.environments = environments;
  const char* variable = std::getenv("RBENCH_SWEBENCH_ENVS");
  if (options.environments.empty() && variable != nullptr) options.environments = variable;
  if (options.environments.empty()) {
    throw UserError(
        fmt::format("SWE-bench grading needs prepared environments: pass --swebench-envs or set "
                    "RBENCH_SWEBENCH_ENVS to the directory that holds <owner>__<repo>/<version>/ ({})",
                    setup_help));
  }
  if (const char* scratch = std::getenv("RBENCH_SWEBENCH_SCRATCH"); scratch != nullptr && *scratch != '\0') {
    options.scratch = scratch;
  }
  if (const char* jobs = std::getenv("RBENCH_SWEBENCH_JOBS"); jobs != nullptr && *jobs != '\0') {
    options.max_parallel_runs = parse_jobs(jobs);
  }
  return options;
}

std::unique_ptr<Scorer> make_swebench_scorer(const ScorerOptions& options) {
  if (!fs::is_directory(options.environments)) {
    throw UserError(fmt::format("the SWE-bench environments directory {} does not exist ({})",
                                options.environments.string(), setup_help));
  }
  if (!options.scratch.empty() && !fs::is_directory(options.scratch)) {
    throw UserError(fmt::format("the SWE-bench scratch directory {} does not exist", options.scratch.string()));
  }
  return std::make_unique<SwebenchScorer>(options);
}

}  // namespace rbench::swebench
