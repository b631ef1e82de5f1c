// SWE-bench grading: the log parsers on pytest -rA, Django and SymPy output; the FAIL_TO_PASS /
// PASS_TO_PASS rules of swebench/harness/grading.py (../shared/GRADING_NOTES.md §4); patch extraction,
// safety checks and application on real git repositories; and the whole scorer on a small real project
// (a bug, its fix, a test patch) whose tests run in the sandbox.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "harness/store/store.h"
#include "sandbox/sandbox.h"
#include "scorers/patch.h"
#include "scorers/swebench_log.h"
#include "scorers/swebench_scorer.h"
#include "suites/suite.h"
#include "support/test_support.h"

namespace rbench::swebench {
namespace {

namespace fs = std::filesystem;
using rbench::testing::TempDir;
using rbench::testing::write_file;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ----------------------------------------------------------------------------------------------------
// Log parsers

TEST(SwebenchLog, PytestShortSummary) {
  const std::string log = R"(============================= test session starts ==============================
platform linux -- Python 3.9.19, pytest-7.4.0, pluggy-1.3.0
rootdir: /testbed
collected 8 items

tests/test_x.py ..F.sx.E                                                 [100%]

=========================== short test summary info ============================
PASSED tests/test_x.py::test_a
PASSED tests/test_x.py::test_param[1-2]
PASSED tests/test_x.py::test_param[a b]
FAILED tests/test_x.py::test_c - AssertionError: assert 1 == 2
FAILED tests/test_x.py::TestK::test_d
SKIPPED [1] tests/test_x.py:20: needs network
XFAIL tests/test_x.py::test_e - reason: not yet
ERROR tests/test_y.py::test_f - fixture 'db' not found
ERROR: file or directory not found: tests/test_z.py
==================== 2 failed, 3 passed, 1 skipped, 1 xfailed, 1 error in 0.12s ====================
)";
  const StatusMap expected{
      {"tests/test_x.py::test_a", TestStatus::passed},       {"tests/test_x.py::test_param[1-2]", TestStatus::passed},
      {"tests/test_x.py::test_param[a", TestStatus::passed},  // cut at the space, as upstream
      {"tests/test_x.py::test_c", TestStatus::failed},       {"tests/test_x.py::TestK::test_d", TestStatus::failed},
      {"tests/test_x.py::test_e", TestStatus::xfail},        {"tests/test_y.py::test_f", TestStatus::error}};
  EXPECT_EQ(parse_test_log(LogParser::pytest, log), expected);
}

TEST(SwebenchLog, PytestFailedLineDropsTheMessageAfterSpacedDash) {
  // SWE-bench replaces " - " by " " before splitting, so a dash inside the parameters cuts the id there.
  const auto statuses = parse_test_log(LogParser::pytest, "FAILED t.py::test_f[x - y] - ValueError\n");
  EXPECT_EQ(statuses, (StatusMap{{"t.py::test_f[x", TestStatus::failed}}));
}

TEST(SwebenchLog, PytestOptionsKeepsOnlyTheFileNameOfPathParameters) {
  const std::string log =
      "PASSED tests/test_io.py::test_read[/tmp/pytest-of-root/pytest-0/test_read0/data.dcm]\n"
      "PASSED tests/test_io.py::test_glob[/tmp/*.dcm]\n"
      "PASSED tests/test_io.py::test_url[//server/share]\n"
      "FAILED tests/test_io.py::test_plain[3] - assert False\n";
  const StatusMap expected{{"tests/test_io.py::test_read[/data.dcm]", TestStatus::passed},
                           {"tests/test_io.py::test_glob[/tmp/*.dcm]", TestStatus::passed},
                           {"tests/test_io.py::test_url[//server/share]", TestStatus::passed},
                           {"tests/test_io.py::test_plain[3]", TestStatus::failed}};
  EXPECT_EQ(parse_test_log(LogParser::pytest_options, log), expected);
}

TEST(SwebenchLog, PytestV2RemovesColoursAndReadsOldVerboseLines) {
  const std::string log =
      "\x1b[32mPASSED\x1b[0m tests/test_a.py::test_x\n"
      "tests/test_b.py::test_y FAILED\n"
      "tests/test_b.py::test_z PASSED\n";
  const StatusMap expected{{"tests/test_a.py::test_x", TestStatus::passed},
                           {"tests/test_b.py::test_y", TestStatus::failed},
                           {"tests/test_b.py::test_z", TestStatus::passed}};
  EXPECT_EQ(parse_test_log(LogParser::pytest_v2, log), expected);
  // The plain parser reads only summary lines, and the escape bytes hide the status word.
  EXPECT_TRUE(parse_test_log(LogParser::pytest, log).empty());
}

TEST(SwebenchLog, DjangoVerboseRunner) {
  const std::string log = R"(Testing against Django installed in '/testbed/django'
Importing application auth_tests
Creating test database for alias 'default'...
System check identified no issues (0 silenced).
test_a (auth_tests.test_forms.T) ... ok
test_b (auth_tests.test_forms.T) ... FAIL
test_c (auth_tests.test_forms.T) ... skipped 'needs postgres'
test_d (auth_tests.test_forms.T) ... ERROR
test_e (auth_tests.test_forms.T) ... printed by the test
ok
A cached sitemap index can be rendered (#2713). ... ok
test_f (auth_tests.test_forms.T) ... expected failure

======================================================================
FAIL: test_b (auth_tests.test_forms.T)
----------------------------------------------------------------------
Traceback (most recent call last):
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 7 tests in 0.012s

FAILED (failures=1, errors=1, skipped=1, expected failures=1)
Destroying test database for alias 'default'...
)";
  const StatusMap expected{{"test_a (auth_tests.test_forms.T)", TestStatus::passed},
                           {"test_b (auth_tests.test_forms.T)", TestStatus::failed},
                           {"test_b", TestStatus::failed},  // from the "FAIL:" header, as upstream
                           {"test_c (auth_tests.test_forms.T)", TestStatus::skipped},
                           {"test_d (auth_tests.test_forms.T)", TestStatus::error},
                           {"test_e (auth_tests.test_forms.T)", TestStatus::passed},
                           {"A cached sitemap index can be rendered (#2713).", TestStatus::passed}};
  EXPECT_EQ(parse_test_log(LogParser::django, log), expected);
}

TEST(SwebenchLog, SympyBinTest) {
  const std::string log = R"(============================= test process starts ==============================
executable:         /usr/bin/python  (3.9.19-final-0) [CPython]
random seed:        30594771

sympy/matrices/tests/test_sparse.py[3] 
test_sparse_matrix F
test_transpose ok
test_trace E

________________________________________________________________________________
___________ sympy/matrices/tests/test_sparse.py:test_sparse_matrix _____________
Traceback (most recent call last):
AssertionError

============= tests finished: 1 passed, 1 failed, 1 exceptions in 0.31 seconds =============
DO *NOT* COMMIT!
)";
  const StatusMap expected{{"test_sparse_matrix", TestStatus::failed},
                           {"test_transpose", TestStatus::passed},
                           {"test_trace", TestStatus::error},
                           {"sympy/matrices/tests/test_sparse.py:test_sparse_matrix", TestStatus::failed}};
  EXPECT_EQ(parse_test_log(LogParser::sympy, log), expected);
}

TEST(SwebenchLog, MatplotlibWritesMouseButtonsAsNumbers) {
  const auto statuses = parse_test_log(LogParser::matplotlib,
                                       "PASSED lib/matplotlib/tests/test_widgets.py::test_span[MouseButton.LEFT]\n");
  EXPECT_EQ(statuses, (StatusMap{{"lib/matplotlib/tests/test_widgets.py::test_span[1]", TestStatus::passed}}));
}

TEST(SwebenchLog, ParsersByRepositoryAndName) {
  EXPECT_EQ(log_parser_for_repository("django/django"), LogParser::django);
  EXPECT_EQ(log_parser_for_repository("sphinx-doc/sphinx"), LogParser::pytest_v2);
  EXPECT_EQ(log_parser_for_repository("psf/requests"), LogParser::pytest_options);
  EXPECT_EQ(log_parser_for_repository("pallets/flask"), LogParser::pytest);
  EXPECT_EQ(parse_log_parser_name("sympy"), LogParser::sympy);
  try {
    parse_log_parser_name("junit");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_TRUE(contains(e.what(), "junit") && contains(e.what(), "pytest_options")) << e.what();
  }
}

// ----------------------------------------------------------------------------------------------------
// Grading rules

TEST(SwebenchGrading, SkippedFailsFailToPassButKeepsPassToPass) {
  const StatusMap statuses{{"f_pass", TestStatus::passed},  {"f_xfail", TestStatus::xfail},
                           {"f_skip", TestStatus::skipped}, {"f_fail", TestStatus::failed},
                           {"f_error", TestStatus::error},  {"p_skip", TestStatus::skipped},
                           {"p_xfail", TestStatus::xfail},  {"p_fail", TestStatus::failed}};
  const auto report = grade_tests(statuses, {"f_pass", "f_xfail", "f_skip", "f_fail", "f_error", "f_missing"},
                                  {"p_skip", "p_xfail", "p_fail", "p_missing"});
  EXPECT_EQ(report.fail_to_pass.passed, (std::vector<std::string>{"f_pass", "f_xfail"}));
  EXPECT_EQ(report.fail_to_pass.failed, (std::vector<std::string>{"f_skip", "f_fail", "f_error", "f_missing"}));
  EXPECT_EQ(report.pass_to_pass.passed, (std::vector<std::string>{"p_skip", "p_xfail"}));
  EXPECT_EQ(report.pass_to_pass.failed, (std::vector<std::string>{"p_fail", "p_missing"}));
}

TEST(SwebenchGrading, Resolution) {
  const StatusMap statuses{{"a", TestStatus::passed}, {"b", TestStatus::failed}, {"c", TestStatus::passed}};
  EXPECT_EQ(resolution(grade_tests(statuses, {"a"}, {"c"})), Resolution::full);
  EXPECT_EQ(resolution(grade_tests(statuses, {"a"}, {})), Resolution::full) << "an empty PASS_TO_PASS rates 1";
  EXPECT_EQ(resolution(grade_tests(statuses, {}, {})), Resolution::full) << "both empty rate 1, as upstream";
  EXPECT_EQ(resolution(grade_tests(statuses, {"a", "b"}, {"c"})), Resolution::partial);
  EXPECT_EQ(resolution(grade_tests(statuses, {"a", "b"}, {"b"})), Resolution::no) << "a broken PASS_TO_PASS test";
  EXPECT_EQ(resolution(grade_tests(statuses, {"b"}, {"c"})), Resolution::no);
  EXPECT_EQ(resolution(grade_tests(statuses, {"a"}, {"c", "b"})), Resolution::no);
}

TEST(SwebenchGrading, TruncatedParametrizedIdsTakeTheStatusTheirFullIdsShare) {
  const StatusMap agree{{"t.py::test[a b]", TestStatus::passed}, {"t.py::test[a c]", TestStatus::passed}};
  EXPECT_EQ(grade_tests(agree, {"t.py::test[a"}, {}).fail_to_pass.passed.size(), 1u);
  const StatusMap disagree{{"t.py::test[a b]", TestStatus::passed}, {"t.py::test[a c]", TestStatus::failed}};
  EXPECT_EQ(grade_tests(disagree, {"t.py::test[a"}, {}).fail_to_pass.failed.size(), 1u);
  EXPECT_EQ(grade_tests(agree, {"t.py::test"}, {}).fail_to_pass.failed.size(), 1u) << "only ids cut inside [...]";
}

TEST(SwebenchGrading, InvalidLogs) {
  EXPECT_TRUE(invalid_log_reason({}, 0).has_value()) << "no test ran";
  const StatusMap all_passed{{"a", TestStatus::passed}};
  const StatusMap one_failed{{"a", TestStatus::passed}, {"b", TestStatus::failed}};
  EXPECT_FALSE(invalid_log_reason(all_passed, 0));
  EXPECT_FALSE(invalid_log_reason(one_failed, 1));
  const auto spoofed = invalid_log_reason(all_passed, 1);
  ASSERT_TRUE(spoofed);
  EXPECT_TRUE(contains(*spoofed, "exited with 1")) << *spoofed;
}

// ----------------------------------------------------------------------------------------------------
// Patch extraction and safety

const std::string small_diff = "--- a/calc/stats.py\n+++ b/calc/stats.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";

TEST(SwebenchPatch, ExtractsFromFencesTagsAndRawText) {
  EXPECT_EQ(extract_patch("Here is the fix:\n```diff\n" + small_diff + "```\nDone."), small_diff);
  EXPECT_EQ(extract_patch("<patch>\n" + small_diff + "</patch>"), small_diff) << "the prompt's own format";
  EXPECT_EQ(extract_patch("I changed one line.\n\n" + small_diff), small_diff);
  EXPECT_EQ(extract_patch("```python\n" + small_diff + "```"), small_diff) << "a mislabelled fence";
  const std::string git_diff = "diff --git a/x.py b/x.py\nindex 1..2 100644\n" + small_diff;
  EXPECT_EQ(extract_patch("```\n" + git_diff + "```"), git_diff);
  EXPECT_EQ(extract_patch("```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b```"),
            "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
      << "a missing final newline is added";
}

TEST(SwebenchPatch, TheFirstDiffBlockWinsAndBlocksWithoutHeadersAreSkipped) {
  const std::string other = "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-a\n+b\n";
  EXPECT_EQ(extract_patch("```diff\n" + small_diff + "```\nor\n```diff\n" + other + "```"), small_diff);
  EXPECT_EQ(extract_patch("```python\nprint(1)\n```\n```diff\n" + other + "```"), other);
  EXPECT_EQ(extract_patch("```diff\n-a\n+b\n```"), std::nullopt) << "no file header";
  EXPECT_EQ(extract_patch("I could not find the bug."), std::nullopt);
  EXPECT_EQ(extract_patch(""), std::nullopt);
}

TEST(SwebenchPatch, PatchedFiles) {
  const std::string patch = R"(diff --git a/src/old.py b/src/new.py
similarity index 90%
rename from src/old.py
rename to src/new.py
diff --git a/tests/test_new.py b/tests/test_new.py
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/tests/test_new.py
@@ -0,0 +1,2 @@
+--- not a header: an added line
+-- neither
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
--- a/plain.sql
+++ b/plain.sql
@@ -1,2 +1,2 @@
--- a removed SQL comment
+-- a new SQL comment
 SELECT 1;
)";
  const auto files = patched_files(patch);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].old_path, "src/old.py");
  EXPECT_EQ(files[0].new_path, "src/new.py");
  EXPECT_EQ(files[1].old_path, "");
  EXPECT_EQ(files[1].new_path, "tests/test_new.py");
  EXPECT_EQ(files[2].old_path, "gone.py");
  EXPECT_EQ(files[2].new_path, "");
  EXPECT_EQ(files[3].old_path, "plain.sql");
  EXPECT_EQ(files[3].new_path, "plain.sql");
}

TEST(SwebenchPatch, UnsafePatchesAreNamed) {
  TempDir checkout;
  fs::create_directories(checkout / "src");
  fs::create_directory_symlink("/etc", checkout / "etc_link");
  const auto reason = [&](const std::string& patch) { return unsafe_patch_reason(patch, checkout.path()); };
  EXPECT_EQ(reason(small_diff), std::nullopt);
  EXPECT_TRUE(contains(reason("--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+1\n").value_or(""), "'..'"));
  EXPECT_TRUE(contains(reason("--- /dev/null\n+++ /etc/cron.d/x\n@@ -0,0 +1 @@\n+1\n").value_or(""), "absolute"));
  EXPECT_TRUE(
      contains(reason("diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\n").value_or(""), ".git"));
  EXPECT_TRUE(contains(
      reason("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n").value_or(""),
      "symbolic link"));
  EXPECT_TRUE(contains(reason("diff --git a/l b/l\nnew file mode 0120000\n").value_or(""), "symbolic link"))
      << "git reads the mode as an octal number";
  EXPECT_TRUE(
      contains(reason("diff --git a/l b/l\nindex 0000000..e69de29 120000\n--- /dev/null\n+++ b/l\n").value_or(""),
               "symbolic link"))
      << "the mode on an index line";
  EXPECT_TRUE(
      contains(reason("--- a/etc_link/passwd\n+++ b/etc_link/passwd\n@@ -1 +1 @@\n-a\n+b\n").value_or(""), "etc_link"));
  EXPECT_TRUE(contains(reason("Index: ../../outside\n").value_or(""), "'..'")) << "GNU patch reads Index: lines";
  EXPECT_EQ(reason("--- a/src/q.sql\n+++ b/src/q.sql\n@@ -1 +1 @@\n--- ../x\n+-- ../y\n"), std::nullopt)
      << "hunk bodies are content, not headers";
}

// A git repository holding `files` in one commit.
class GitRepository {
 public:
  explicit GitRepository(const std::map<std::string, std::string>& files) {
    write(files);
    git({"init", "--quiet"});
    git({"add", "--all"});
    git({"-c", "user.name=rbench", "-c", "user.email=rbench@localhost", "commit", "--quiet", "-m", "base"});
  }
  std::string git(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ToolRun run = run_tool(argv, dir_.path());
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return run.output;
  }
  std::string head() const { return git({"rev-parse", "HEAD"}).substr(0, 40); }
  // The diff that turns the committed tree into one with `files` written, and back to the commit.
  std::string diff_writing(const std::map<std::string, std::string>& files) const {
    write(files);
    git({"add", "--all"});
    const std::string diff = git({"diff", "--cached"});
    git({"reset", "--quiet", "--hard"});
    git({"clean", "-fdq"});
    return diff;
  }
  std::string read(const std::string& path) const { return rbench::testing::read_file(dir_ / path); }
  const fs::path& path() const { return dir_.path(); }

 private:
  void write(const std::map<std::string, std::string>& files) const {
    for (const auto& [path, content] : files) {
      fs::create_directories((dir_ / path).parent_path());
      write_file(dir_ / path, content);
    }
  }
  TempDir dir_;
};

GitRepository greet_repository() {
  return GitRepository(std::map<std::string, std::string>{
      {"greet.py", "def greet(name):\n    return 'Hello ' + name\n\n\nprint(greet('world'))\n"}});
}

const char* const polite_greet = "def greet(name):\n    return 'Hello, ' + name + '!'\n\n\nprint(greet('world'))\n";

TEST(SwebenchPatch, AppliesWithGitApply) {
  const GitRepository repo = greet_repository();
  const auto applied = apply_untrusted_patch(repo.path(), repo.diff_writing({{"greet.py", polite_greet}}));
  EXPECT_EQ(applied.outcome, PatchApplication::Outcome::applied) << applied.log;
  EXPECT_EQ(applied.method, "git apply");
  EXPECT_EQ(repo.read("greet.py"), polite_greet);
}

TEST(SwebenchPatch, FallsBackToPatchWithFuzz) {
  const GitRepository repo = greet_repository();
  // The hunk's first context line is not what the file says: git apply refuses, GNU patch's fuzz accepts.
  const std::string fuzzy =
      "--- a/greet.py\n+++ b/greet.py\n@@ -1,3 +1,3 @@\n def greet(person):\n-    return 'Hello ' + name\n"
      "+    return 'Hello, ' + name + '!'\n \n";
  const auto applied = apply_untrusted_patch(repo.path(), fuzzy);
  EXPECT_EQ(applied.outcome, PatchApplication::Outcome::applied) << applied.log;
  EXPECT_EQ(applied.method, "patch --fuzz=5");
  EXPECT_TRUE(contains(repo.read("greet.py"), "'Hello, ' + name + '!'"));
}

TEST(SwebenchPatch, AFailedPatchLeavesTheCheckoutClean) {
  const GitRepository repo = greet_repository();
  const std::string wrong = "--- a/greet.py\n+++ b/greet.py\n@@ -1,2 +1,2 @@\n-nothing like this\n-here\n+x\n+y\n";
  const auto applied = apply_untrusted_patch(repo.path(), wrong);
  EXPECT_EQ(applied.outcome, PatchApplication::Outcome::failed);
  EXPECT_TRUE(contains(applied.log, "$ patch --batch --forward --fuzz=5")) << "every method was tried:\n"
                                                                           << applied.log;
  EXPECT_EQ(repo.git({"status", "--porcelain"}), "");
}

TEST(SwebenchPatch, APatchTheCommitAlreadyHasCountsAsApplied) {
  const GitRepository repo(std::map<std::string, std::string>{{"greet.py", polite_greet}});
  // Without index lines git cannot merge three ways; GNU patch sees the patch as reversed and skips it.
  const std::string polite =
      "--- a/greet.py\n+++ b/greet.py\n@@ -1,3 +1,3 @@\n def greet(name):\n"
      "-    return 'Hello ' + name\n+    return 'Hello, ' + name + '!'\n \n";
  const auto applied = apply_untrusted_patch(repo.path(), polite);
  EXPECT_EQ(applied.outcome, PatchApplication::Outcome::applied) << applied.log;
  EXPECT_EQ(applied.method, "already applied");
  EXPECT_EQ(repo.read("greet.py"), polite_greet);
  EXPECT_EQ(repo.git({"status", "--porcelain"}), "") << "the rejects were cleaned up";
}

TEST(SwebenchPatch, RefusedPatchesWriteNothing) {
  const GitRepository repo = greet_repository();
  const std::string escape = "--- /dev/null\n+++ b/../escaped.txt\n@@ -0,0 +1 @@\n+owned\n";
  const auto applied = apply_untrusted_patch(repo.path(), escape);
  EXPECT_EQ(applied.outcome, PatchApplication::Outcome::refused);
  EXPECT_TRUE(contains(applied.log, "'..'")) << applied.log;
  EXPECT_FALSE(fs::exists(repo.path().parent_path() / "escaped.txt"));
}

// ----------------------------------------------------------------------------------------------------
// The scorer on a small real project: calc.stats.median is wrong for even lengths and empty input.

const char* const stats_base = R"(def mean(values):
    return sum(values) / len(values)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle]
)";

const char* const stats_fixed = R"(def mean(values):
    return sum(values) / len(values)


def median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
)";

const char* const tests_base = R"(from calc.stats import mean, median


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_median_odd():
    assert median([3, 1, 2]) == 2
)";

const char* const tests_added = R"(


def test_median_even():
    assert median([4, 1, 3, 2]) == 2.5


def test_median_empty():
    assert median([]) is None
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// <environments>/<owner>__<repo>/<version>/{repo, env.json}: a clone of `project`, tested with the system
// Python and its pytest.
void add_environment(const fs::path& environments, const std::string& repository, const std::string& version,
                     const GitRepository& project, int timeout_s) {
  const fs::path dir = environments / replaced(repository, "/", "__") / version;
  fs::create_directories(dir);
  project.git({"clone", "--quiet", project.path().string(), (dir / "repo").string()});
  write_file(dir / "env.json", nlohmann::json{{"python", "/usr/bin/python3"}, {"timeout_s", timeout_s}}.dump());
}

class SwebenchScorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto capability = sandbox::probe();
    if (!capability.available) GTEST_SKIP() << "the sandbox is not available here: " << capability.reason;
    test_patch_ = project_.diff_writing({{"tests/test_stats.py", std::string(tests_base) + tests_added}});
    gold_patch_ = project_.diff_writing({{"calc/stats.py", stats_fixed}});
    add_environment(environments_.path(), "acme/calc", "1.0", project_, 60);
  }

  std::string diff_writing(const std::map<std::string, std::string>& files) const {
    return project_.diff_writing(files);
  }

  nlohmann::json material(const std::string& version = "1.0") const {
    return {{"repository", "acme/calc"},
            {"version", version},
            {"base_commit", project_.head()},
            {"environment_setup_commit", project_.head()},
            {"test_patch", test_patch_},
            {"FAIL_TO_PASS", {"tests/test_stats.py::test_median_even", "tests/test_stats.py::test_median_empty"}},
            {"PASS_TO_PASS", {"tests/test_stats.py::test_mean", "tests/test_stats.py::test_median_odd"}}};
  }

  Verdict grade(const std::string& response, const std::string& version = "1.0") const {
    return grade_problem(response, material(version));
  }

  Verdict grade_problem(const std::string& response, const nlohmann::json& problem) const {
    ScorerOptions options;
    options.environments = environments_.path();
    options.scratch = scratch_.path();
    Verdict verdict = make_swebench_scorer(options)->grade(Submission{"", response, problem});
    EXPECT_TRUE(fs::is_empty(scratch_.path())) << "the checkout was not deleted";
    return verdict;
  }

  static std::string status(const Verdict& verdict) { return verdict.details.value("status", ""); }
  static std::string fenced(const std::string& patch) { return "The fix:\n```diff\n" + patch + "```\n"; }

  const GitRepository project_{
      {{"calc/__init__.py", ""}, {"calc/stats.py", stats_base}, {"tests/test_stats.py", tests_base}}};
  TempDir environments_, scratch_;
  std::string test_patch_, gold_patch_;
};

TEST_F(SwebenchScorerTest, GoldPatchResolves) {
  const Verdict verdict = grade(fenced(gold_patch_));
  EXPECT_EQ(status(verdict), "resolved") << verdict.details.dump(2);
  EXPECT_TRUE(verdict.correct);
  EXPECT_EQ(verdict.verdict, "correct");
  EXPECT_EQ(verdict.score, 1.0);
  EXPECT_EQ(verdict.extracted, gold_patch_);
  EXPECT_EQ(verdict.details["patch_apply"], "git apply");
  EXPECT_EQ(verdict.details["exit_code"], 0);
  EXPECT_EQ(verdict.details["f2p"]["passed"].size(), 2u);
  EXPECT_EQ(verdict.details["p2p"]["passed"].size(), 2u);
  EXPECT_TRUE(contains(verdict.details["test_command"], "pytest -rA --tb=no -p no:cacheprovider tests/test_stats.py"));
  EXPECT_TRUE(contains(verdict.details["log_tail"], "PASSED tests/test_stats.py::test_median_even"));
}

TEST_F(SwebenchScorerTest, NoFixLeavesTheNewTestsFailing) {
  // A patch that changes nothing the tests look at.
  const Verdict verdict = grade(fenced(diff_writing({{"calc/__init__.py", "\"\"\"Small statistics.\"\"\"\n"}})));
  EXPECT_EQ(status(verdict), "unresolved") << verdict.details.dump(2);
  EXPECT_EQ(verdict.verdict, "incorrect");
  EXPECT_EQ(verdict.details["f2p"]["failed"].size(), 2u);
  EXPECT_EQ(verdict.details["p2p"]["passed"].size(), 2u);
}

TEST_F(SwebenchScorerTest, HalfAFixIsPartial) {
  const std::string even_only = replaced(stats_fixed, "    if not ordered:\n        return None\n", "");
  const Verdict verdict = grade(fenced(diff_writing({{"calc/stats.py", even_only}})));
  EXPECT_EQ(status(verdict), "partial") << verdict.details.dump(2);
  EXPECT_FALSE(verdict.correct);
  EXPECT_EQ(verdict.details["f2p"]["failed"], nlohmann::json::array({"tests/test_stats.py::test_median_empty"}));
}

TEST_F(SwebenchScorerTest, BreakingAPassingTestIsUnresolved) {
  const std::string broken_mean = replaced(stats_fixed, "/ len(values)", "/ (len(values) + 1)");
  const Verdict verdict = grade(fenced(diff_writing({{"calc/stats.py", broken_mean}})));
  EXPECT_EQ(status(verdict), "unresolved") << verdict.details.dump(2);
  EXPECT_EQ(verdict.details["f2p"]["passed"].size(), 2u);
  EXPECT_EQ(verdict.details["p2p"]["failed"], nlohmann::json::array({"tests/test_stats.py::test_mean"}));
}

TEST_F(SwebenchScorerTest, EditedTestFilesAreResetBeforeTheTestPatch) {
  // Writing the new tests as trivially passing ones does not count: the test files go back to base_commit.
  const std::string cheat = std::string(tests_base) + "\n\ndef test_median_even():\n    pass\n";
  const Verdict verdict = grade(fenced(diff_writing({{"tests/test_stats.py", cheat}})));
  EXPECT_EQ(status(verdict), "unresolved") << verdict.details.dump(2);
  EXPECT_EQ(verdict.details["f2p"]["failed"].size(), 2u);
}

TEST_F(SwebenchScorerTest, NoPatchAndGarbage) {
  const Verdict none = grade("I could not find the problem.");
  EXPECT_EQ(status(none), "no_patch");
  EXPECT_EQ(none.verdict, "no_answer");
  const Verdict garbage =
      grade(fenced("--- a/calc/stats.py\n+++ b/calc/stats.py\n@@ -1,2 +1,2 @@\n-no such\n-lines\n+x\n+y\n"));
  EXPECT_EQ(status(garbage), "patch_failed") << garbage.details.dump(2);
  EXPECT_EQ(garbage.verdict, "incorrect");
  EXPECT_TRUE(contains(garbage.details["log_tail"], "$ git apply --verbose"));
}

TEST_F(SwebenchScorerTest, APatchWritingOutsideTheRepositoryIsRefused) {
  const Verdict escape = grade(fenced("--- /dev/null\n+++ b/../escaped.py\n@@ -0,0 +1 @@\n+print('out')\n"));
  EXPECT_EQ(status(escape), "patch_refused") << escape.details.dump(2);
  EXPECT_TRUE(contains(escape.details["message"], "'..'"));
  const Verdict link =
      grade(fenced("diff --git a/calc/l b/calc/l\nnew file mode 120000\n--- /dev/null\n+++ b/calc/l\n"
                   "@@ -0,0 +1 @@\n+/etc\n\\ No newline at end of file\n"));
  EXPECT_EQ(status(link), "patch_refused") << link.details.dump(2);
}

TEST_F(SwebenchScorerTest, ForgedPassedLinesWithAFailingExitAreInvalid) {
  // No fix; a conftest.py hook prints PASSED lines after pytest's own summary, so they win in the log.
  const std::string conftest = R"(import sys


def pytest_unconfigure(config):
    for name in ("test_mean", "test_median_odd", "test_median_even", "test_median_empty"):
        sys.stdout.write("PASSED tests/test_stats.py::" + name + "\n")
)";
  const Verdict verdict = grade(fenced(diff_writing({{"conftest.py", conftest}})));
  EXPECT_EQ(status(verdict), "invalid_log") << verdict.details.dump(2);
  EXPECT_FALSE(verdict.correct);
  EXPECT_EQ(verdict.details["exit_code"], 1);
  EXPECT_TRUE(contains(verdict.details["message"], "exited with 1"));
  EXPECT_TRUE(contains(verdict.details["log_tail"], "FAILED tests/test_stats.py::test_median_even"))
      << "the real result is in the log, overwritten by the forged line after it";
}

TEST_F(SwebenchScorerTest, HangingTestsTimeOut) {
  add_environment(environments_.path(), "acme/calc", "slow", project_, 1);
  const std::string hang = replaced(stats_fixed, "    ordered = sorted(values)\n", "    while True:\n        pass\n");
  const Verdict verdict = grade(fenced(diff_writing({{"calc/stats.py", hang}})), "slow");
  EXPECT_EQ(status(verdict), "timeout") << verdict.details.dump(2);
  EXPECT_FALSE(verdict.correct);
}

TEST_F(SwebenchScorerTest, SamplesGradedAtOnceKeepToTheirOwnCheckouts) {
  ScorerOptions options;
  options.environments = environments_.path();
  options.scratch = scratch_.path();
  const auto scorer = make_swebench_scorer(options);
  const nlohmann::json problem = material();
  const std::string unfixed = fenced(diff_writing({{"calc/__init__.py", "# calc\n"}}));
  Verdict gold_verdict, unfixed_verdict;
  {
    std::jthread gold([&] { gold_verdict = scorer->grade(Submission{"", fenced(gold_patch_), problem}); });
    std::jthread other([&] { unfixed_verdict = scorer->grade(Submission{"", unfixed, problem}); });
  }
  EXPECT_EQ(status(gold_verdict), "resolved") << gold_verdict.details.dump(2);
  EXPECT_EQ(status(unfixed_verdict), "unresolved") << unfixed_verdict.details.dump(2);
  EXPECT_TRUE(fs::is_empty(scratch_.path()));
}

TEST_F(SwebenchScorerTest, AMissingEnvironmentIsAnErrorNamingThePath) {
  try {
    grade(fenced(gold_patch_), "9.9");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_TRUE(contains(e.what(), (environments_ / "acme__calc" / "9.9" / "repo").string())) << e.what();
  }
}

// Django's way: tests/runtests.py with module labels (tests/calc_tests/test_stats.py -> calc_tests.test_stats),
// unittest's verbose output on stderr, and tests named by their docstrings. The stand-in runner takes
// Django's options and runs unittest as Django's runner does.
TEST_F(SwebenchScorerTest, DjangoStyleRunnerAndModuleLabels) {
  const char* const runner = R"(import sys
import unittest

labels = []
args = iter(sys.argv[1:])
for arg in args:
    if arg in ("--verbosity", "--parallel"):
        next(args)
    elif not arg.startswith("--"):
        labels.append(arg)
result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromNames(labels))
sys.exit(not result.wasSuccessful())
)";
  const char* const django_tests = R"(import unittest

from calc.stats import mean, median


class StatsTests(unittest.TestCase):
    def test_mean(self):
        """mean() of three numbers."""
        self.assertEqual(mean([1, 2, 3]), 2)
)";
  const GitRepository django(std::map<std::string, std::string>{{"calc/__init__.py", ""},
                                                                {"calc/stats.py", stats_base},
                                                                {"tests/runtests.py", runner},
                                                                {"tests/calc_tests/__init__.py", ""},
                                                                {"tests/calc_tests/test_stats.py", django_tests}});
  const std::string test_patch =
      django.diff_writing({{"tests/calc_tests/test_stats.py",
                            std::string(django_tests) + "\n    def test_median_even(self):\n        \"\"\"median() of "
                                                        "an even count averages the middle two.\"\"\"\n"
                                                        "        self.assertEqual(median([4, 1, 3, 2]), 2.5)\n"}});
  add_environment(environments_.path(), "django/django", "test", django, 60);
  const nlohmann::json problem{{"repository", "django/django"},
                               {"version", "test"},
                               {"base_commit", django.head()},
                               {"test_patch", test_patch},
                               {"FAIL_TO_PASS", {"median() of an even count averages the middle two."}},
                               {"PASS_TO_PASS", {"mean() of three numbers."}}};

  const Verdict fixed = grade_problem(fenced(django.diff_writing({{"calc/stats.py", stats_fixed}})), problem);
  EXPECT_EQ(status(fixed), "resolved") << fixed.details.dump(2);
  EXPECT_TRUE(contains(fixed.details["test_command"],
                       "tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 calc_tests.test_stats"));
  const Verdict unfixed = grade_problem(fenced(django.diff_writing({{"calc/__init__.py", "# calc\n"}})), problem);
  EXPECT_EQ(status(unfixed), "unresolved") << unfixed.details.dump(2);
  EXPECT_EQ(unfixed.details["exit_code"], 1);
}

// ----------------------------------------------------------------------------------------------------
// Configuration and the real SWE-bench data (no environments prepared: the clear error)

TEST(SwebenchScorerSetup, EnvironmentsDirectoryIsRequired) {
  rbench::testing::ScopedEnvironment environment;
  environment.set("RBENCH_SWEBENCH_ENVS", std::nullopt);
  try {
    make_scorer("swebench");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_TRUE(contains(e.what(), "RBENCH_SWEBENCH_ENVS")) << e.what();
  }
  environment.set("RBENCH_SWEBENCH_ENVS", "/nonexistent/envs");
  EXPECT_THROW(make_scorer("swebench"), UserError);
  TempDir envs;
  environment.set("RBENCH_SWEBENCH_ENVS", envs.path().string());
  environment.set("RBENCH_SWEBENCH_JOBS", "zero");
  EXPECT_THROW(make_scorer("swebench"), UserError);
  environment.set("RBENCH_SWEBENCH_JOBS", "2");
  EXPECT_EQ(make_scorer("swebench")->name(), "swebench");
}

TEST(SwebenchScorerSetup, BadEnvJsonIsNamed) {
  TempDir envs;
  fs::create_directories(envs / "acme__calc" / "1.0" / "repo" / ".git" / "objects");
  write_file(envs / "acme__calc" / "1.0" / "env.json", R"({"python": "/usr/bin/python3", "timeout_s": "long"})");
  ScorerOptions options;
  options.environments = envs.path();
  const nlohmann::json problem{{"repository", "acme/calc"}, {"version", "1.0"},     {"base_commit", "abc"},
                               {"test_patch", ""},          {"FAIL_TO_PASS", "[]"}, {"PASS_TO_PASS", "[]"}};
  try {
    make_swebench_scorer(options)->grade(Submission{"", "", problem});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_TRUE(contains(e.what(), "env.json") && contains(e.what(), "timeout_s")) << e.what();
  }
}

TEST(SwebenchScorerSetup, CommandLineRunNamesTheMissingEnvironment) {
  const fs::path datasets = rbench::testing::shared_dir() / "datasets";
  if (!fs::is_directory(datasets / "swebench_verified")) GTEST_SKIP() << "no shared datasets at " << datasets;
  TempDir work;
  fs::create_directories(work / "envs");
  const auto exported = rbench::testing::run_rbench(
      {"suites", "export", "swebench_verified", "--as-replay", "--limit", "1", "--data-dir", datasets.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(nlohmann::json::parse(exported.out)["content"].get<std::string>().starts_with("```diff\ndiff --git a/"))
      << "the gold patch is the reference answer: " << exported.out;
  write_file(work / "gold.jsonl", exported.out);
  const auto run = rbench::testing::run_rbench(
      {"run", "--model", "replay:" + (work / "gold.jsonl").string(), "--suite", "swebench_verified", "--limit", "1",
       "--data-dir", datasets.string(), "--db", (work / "r.db").string(), "--swebench-envs", (work / "envs").string()});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_TRUE(contains(run.err, "no SWE-bench environment for django/django") &&
              contains(run.err, (work / "envs" / "django__django").string()))
      << run.err;
  // It stopped before generating anything: no run was begun, so nothing was asked of (or paid to) the model.
  if (fs::exists(work / "r.db")) {
    EXPECT_TRUE(rbench::Store::open(work / "r.db")->runs().empty());
  }
}

TEST(SwebenchScorerSetup, RealInstancesAskForTheirEnvironment) {
  const fs::path datasets = rbench::testing::shared_dir() / "datasets" / "swebench_verified";
  if (!fs::is_directory(datasets)) GTEST_SKIP() << "no shared datasets at " << datasets << " (set RBENCH_SHARED)";
  TempDir data, envs;
  fs::create_directories(data / "swebench_verified");
  // The suite reads verified_mini_test.jsonl; the SWE-agent sample holds its test lists as real arrays.
  fs::copy_file(datasets / "swebench_lite_sample5.jsonl", data / "swebench_verified" / "verified_mini_test.jsonl");
  SuiteOptions suite_options;
  suite_options.data_dir = data.path().string();
  const auto suite = open_suite("swebench_verified", suite_options);
  ASSERT_EQ(suite->problems().size(), 5u);
  ScorerOptions options;
  options.environments = envs.path();
  const auto scorer = make_swebench_scorer(options);
  for (const auto& problem : suite->problems()) {
    const std::string expected_path = (envs / (replaced(problem.metadata["repository"].get<std::string>(), "/", "__")) /
                                       problem.metadata["version"].get<std::string>() / "repo")
                                          .string();
    EXPECT_THROW(scorer->check_material(problem.metadata), UserError) << problem.id;
    try {
      scorer->grade(Submission{problem.gold, "```diff\n" + problem.solution + "```", problem.metadata});
      ADD_FAILURE() << problem.id << ": no error";
    } catch (const UserError& e) {
      EXPECT_TRUE(contains(e.what(), "no SWE-bench environment") && contains(e.what(), expected_path))
          << problem.id << ": " << e.what();
    }
    // The gold patch is found in a response, is safe, and names the files it changes.
    const auto patch = extract_patch("```diff\n" + problem.solution + "```");
    ASSERT_TRUE(patch) << problem.id;
    EXPECT_EQ(unsafe_patch_reason(*patch, envs.path()), std::nullopt) << problem.id;
    EXPECT_FALSE(patched_files(*patch).empty()) << problem.id;
    EXPECT_FALSE(patched_files(problem.metadata["test_patch"].get<std::string>()).empty()) << problem.id;
  }
}

}  // namespace
}  // namespace rbench::swebench
