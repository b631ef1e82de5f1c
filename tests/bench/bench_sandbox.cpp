// What isolation costs per run: a sandboxed run of /bin/true and of python3 `print(1)` against a plain
// posix_spawn of the same program, measured in the same process and iteration. Counters:
//   plain_ms, sandbox_ms   mean wall time per run
//   overhead_ms            sandbox_ms - plain_ms
//   ratio                  sandbox_ms / plain_ms
// The sandboxed run includes everything a scorer pays: the cgroup, the init program, namespaces,
// mounts, the seccomp filter, and writing the program's file into the fresh work directory.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using rbench::sandbox::RunSpec;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// fork/exec without isolation; output to /dev/null like the sandbox's is captured and dropped.
void spawn_and_wait(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  for (const auto& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(argv[0] + " failed");
}

void measure(benchmark::State& state, const std::vector<std::string>& plain_argv, const RunSpec& spec) {
  if (!rbench::sandbox::probe().available) {
    state.SkipWithError(("isolation unavailable: " + rbench::sandbox::probe().reason).c_str());
    return;
  }
  double plain_ms = 0, sandbox_ms = 0;
  for (auto _ : state) {
    auto start = Clock::now();
    spawn_and_wait(plain_argv);
    plain_ms += elapsed_ms(start);
    start = Clock::now();
    const auto result = rbench::sandbox::run(spec);
    sandbox_ms += elapsed_ms(start);
    if (result.status != rbench::sandbox::Status::ok) {
      state.SkipWithError(("sandboxed run failed: " + result.message).c_str());
      return;
    }
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["plain_ms"] = plain_ms / runs;
  state.counters["sandbox_ms"] = sandbox_ms / runs;
  state.counters["overhead_ms"] = (sandbox_ms - plain_ms) / runs;
  state.counters["ratio"] = sandbox_ms / plain_ms;
}

void BM_SandboxOverheadTrue(benchmark::State& state) {
  RunSpec spec;
  spec.argv = {"/bin/true"};
  measure(state, {"/bin/true"}, spec);
}
BENCHMARK(BM_SandboxOverheadTrue)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SandboxOverheadPythonPrint(benchmark::State& state) {
  RunSpec spec;
  spec.argv = {"/usr/bin/python3", "main.py"};
  spec.files = {{"main.py", "print(1)\n", false}};
  measure(state, {"/usr/bin/python3", "-c", "print(1)"}, spec);
}
BENCHMARK(BM_SandboxOverheadPythonPrint)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
