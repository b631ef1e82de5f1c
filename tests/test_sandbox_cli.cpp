// `rbench sandbox run` through the binary: the JSON it prints (DESIGN.md's interface), exit codes,
// bad input, and the unsafe flag's warning.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sandbox/sandbox.h"
#include "support/test_support.h"

namespace rbench {
namespace {

using testing::CommandResult;
using testing::run_rbench;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class SandboxCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const sandbox::Capability capability = sandbox::probe();
    if (!capability.available) GTEST_SKIP() << "isolation is unavailable on this machine: " << capability.reason;
  }
  TempDir dir_;
};

TEST_F(SandboxCliTest, PrintsTheResultAsJson) {
  testing::write_file(dir_ / "square.py", "import sys\nn = int(sys.stdin.read())\nprint(n * n)\n");
  testing::write_file(dir_ / "input.txt", "12\n");
  const CommandResult command = run_rbench({"sandbox", "run", "--lang", "python", "--file",
                                            (dir_ / "square.py").string(), "--stdin", (dir_ / "input.txt").string()});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  const auto result = nlohmann::json::parse(command.out);
  EXPECT_EQ(result["status"], "ok");
  EXPECT_EQ(result["exit_code"], 0);
  EXPECT_EQ(result["stdout"], "144\n");
  EXPECT_EQ(result["stderr"], "");
  for (const char* key : {"wall_ms", "cpu_ms", "max_rss_kb"}) EXPECT_TRUE(result[key].is_number_integer()) << key;
  EXPECT_EQ(command.out.rfind("{\"status\":\"ok\",\"exit_code\":0,", 0), 0u) << "DESIGN.md's key order";
}

TEST_F(SandboxCliTest, TimeLimitEndsARunawayProgram) {
  testing::write_file(dir_ / "loop.py", "while True:\n    pass\n");
  const CommandResult command =
      run_rbench({"sandbox", "run", "--lang", "python", "--file", (dir_ / "loop.py").string(), "--time-limit", "1"});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  const auto result = nlohmann::json::parse(command.out);
  EXPECT_EQ(result["status"], "timeout");
  EXPECT_LT(result["wall_ms"].get<int>(), 5000);  // 1 s of CPU, or the 3 s wall clock on a busy machine
}

TEST_F(SandboxCliTest, CompilesCppAndReportsCompileErrors) {
  testing::write_file(dir_ / "ok.cpp", "#include <cstdio>\nint main() { std::puts(\"compiled\"); return 4; }\n");
  CommandResult command = run_rbench({"sandbox", "run", "--lang", "cpp", "--file", (dir_ / "ok.cpp").string()});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  auto result = nlohmann::json::parse(command.out);
  EXPECT_EQ(result["status"], "runtime_error");
  EXPECT_EQ(result["exit_code"], 4);
  EXPECT_EQ(result["stdout"], "compiled\n");

  testing::write_file(dir_ / "bad.cpp", "int main() { return missing_name; }\n");
  command = run_rbench({"sandbox", "run", "--lang", "cpp", "--file", (dir_ / "bad.cpp").string()});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  result = nlohmann::json::parse(command.out);
  EXPECT_EQ(result["compile_error"], true);
  EXPECT_TRUE(contains(result["stderr"], "missing_name")) << command.out;
}

TEST_F(SandboxCliTest, MemoryLimitApplies) {
  testing::write_file(dir_ / "hog.py", "x = b'x' * (300 << 20)\nprint(len(x))\n");
  const CommandResult command = run_rbench(
      {"sandbox", "run", "--lang", "python", "--file", (dir_ / "hog.py").string(), "--memory-limit", "64"});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  const auto result = nlohmann::json::parse(command.out);
  EXPECT_TRUE(result["status"] == "memory_limit" || result["status"] == "runtime_error") << command.out;
  EXPECT_EQ(result["stdout"], "");
}

TEST_F(SandboxCliTest, MissingOrUnreadableInputIsAClearError) {
  CommandResult command =
      run_rbench({"sandbox", "run", "--lang", "python", "--file", (dir_ / "missing.py").string()});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(contains(command.err, "--file")) << command.err;
  EXPECT_TRUE(contains(command.err, "missing.py")) << command.err;
  EXPECT_EQ(command.out, "");

  command = run_rbench({"sandbox", "run", "--lang", "python", "--file", dir_.path().string()});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(contains(command.err, "not a regular file")) << command.err;

  testing::write_file(dir_ / "main.rs", "fn main() {}\n");
  command = run_rbench({"sandbox", "run", "--lang", "rust", "--file", (dir_ / "main.rs").string()});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(contains(command.err, "unknown language 'rust'")) << command.err;
}

TEST_F(SandboxCliTest, UnsafeFlagWarnsAndRunsWithoutIsolation) {
  testing::write_file(dir_ / "look.py", "import os\nprint(os.path.exists('" + dir_.path().string() + "'))\n");
  const CommandResult command = run_rbench(
      {"sandbox", "run", "--lang", "python", "--file", (dir_ / "look.py").string(), "--unsafe-no-sandbox"});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  EXPECT_TRUE(contains(command.err, "WARNING")) << command.err;
  EXPECT_EQ(nlohmann::json::parse(command.out)["stdout"], "True\n");
}

}  // namespace
}  // namespace rbench
