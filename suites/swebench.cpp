// SWE-bench Verified: the instances on hand (shared/datasets/swebench_verified, 50 of the 500), with the
// official text-only prompt (SWE-bench create_instance.py, prompt style-3) and no retrieved code
// (file_source "none": no checkout happens at load time). Graded by the "swebench" scorer, which needs
// the instance material in Problem::metadata: repository, base_commit, environment_setup_commit,
// version, test_patch, FAIL_TO_PASS and PASS_TO_PASS (lists; the Hugging Face files store them as JSON
// text, the SWE-agent fixtures as arrays: both are read). The gold patch is Problem::solution.
#include <fmt/format.h>

#include "suites/data_files.h"
#include "suites/data_suites.h"
#include "suites/jsonl.h"
#include "suites/loaded_suite.h"

namespace rbench {

namespace {

constexpr const char* kPremise =
    "You will be provided with a partial code base and an issue statement explaining a problem to resolve.";
constexpr const char* kExampleExplanation =
    "Here is an example of a patch file. It consists of changes to the code base. It specifies the file names, the "
    "line numbers of each change, and the removed and added lines. A single patch file can contain changes to "
    "multiple files.";
constexpr const char* kFinalInstruction =
    "I need you to solve the provided issue by generating a single patch file that I can apply directly to this "
    "repository using git apply. Please respond with a single patch file in the format shown above.";
constexpr const char* kPatchExample = R"(--- a/file.py
+++ b/file.py
@@ -1,27 +1,35 @@
 def euclidean(a, b):
-    while b:
-        a, b = b, a % b
-    return a
+    if b == 0:
+        return a
+    return euclidean(b, a % b)
 
 
 def bresenham(x0, y0, x1, y1):
     points = []
     dx = abs(x1 - x0)
     dy = abs(y1 - y0)
-    sx = 1 if x0 < x1 else -1
-    sy = 1 if y0 < y1 else -1
-    err = dx - dy
+    x, y = x0, y0
+    sx = -1 if x0 > x1 else 1
+    sy = -1 if y0 > y1 else 1
 
-    while True:
-        points.append((x0, y0))
-        if x0 == x1 and y0 == y1:
-            break
-        e2 = 2 * err
-        if e2 > -dy:
+    if dx > dy:
+        err = dx / 2.0
+        while x != x1:
+            points.append((x, y))
             err -= dy
-            x0 += sx
-        if e2 < dx:
-            err += dx
-            y0 += sy
+            if err < 0:
+                y += sy
+                err += dx
+            x += sx
+    else:
+        err = dy / 2.0
+        while y != y1:
+            points.append((x, y))
+            err -= dx
+            if err < 0:
+                x += sx
+                err += dy
+            y += sy
 
+    points.append((x, y))
     return points)";

// Style-3's lines joined by "\n"; the README and code sections are empty (file_source "none").
std::string swebench_prompt(std::string_view problem_statement) {
  return fmt::format(
      "{}\n<issue>\n{}\n</issue>\n\n<code>\n\n\n</code>\n\n{}\n<patch>\n{}\n</patch>\n\n{}\nRespond below:", kPremise,
      problem_statement, kExampleExplanation, kPatchExample, kFinalInstruction);
}

}  // namespace

std::unique_ptr<Suite> open_swebench_verified(const SuiteOptions& options) {
  const DatasetFile dataset{"swebench_verified", "swebench_verified", "verified_mini_test.jsonl", std::nullopt,
                            "princeton-nlp/SWE-bench_Verified (as JSONL; see shared/datasets/swebench_verified)"};
  const auto path = locate_dataset_file(options, dataset);
  std::vector<Problem> problems;
  read_jsonl(path, [&](const JsonRecord& record) {
    Problem problem;
    problem.id = record.string("instance_id");
    problem.question = record.string("problem_statement");
    problem.solution = record.string("patch");
    const std::string repository = record.string("repo");
    const std::string created_at = record.string("created_at");
    problem.metadata = {{"repository", repository},
                        {"cluster", repository},
                        {"base_commit", record.string("base_commit")},
                        {"environment_setup_commit", record.string("environment_setup_commit")},
                        {"version", record.string("version")},
                        {"created_at", created_at},
                        {"release_date", created_at.substr(0, 10)},
                        {"test_patch", record.string("test_patch")},
                        {"FAIL_TO_PASS", record.array_or_json_text("FAIL_TO_PASS")},
                        {"PASS_TO_PASS", record.array_or_json_text("PASS_TO_PASS")}};
    if (const auto difficulty = record.optional_string("difficulty")) problem.metadata["difficulty"] = *difficulty;
    problems.push_back(std::move(problem));
  });
  SuiteSpec spec;
  spec.name = "swebench_verified";
  spec.scorer = "swebench";
  spec.prompt_template = swebench_prompt("{problem_statement}");
  spec.render = [](const Problem& problem, int) { return render_user_prompt(swebench_prompt(problem.question), ""); };
  return make_loaded_suite(std::move(spec), std::move(problems), path.string());
}

}  // namespace rbench
