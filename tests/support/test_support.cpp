#include "support/test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rbench::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device device;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate = fs::temp_directory_path() / ("rbench-test-" + std::to_string(device()));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

ScopedEnvironment& ScopedEnvironment::set(const std::string& name, const std::optional<std::string>& value) {
  if (!saved_.contains(name)) {
    const char* old = std::getenv(name.c_str());
    saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
  return *this;
}

ScopedEnvironment::~ScopedEnvironment() {
  for (const auto& [name, value] : saved_) value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
}

std::string rbench_binary() { return RBENCH_BINARY; }
fs::path source_dir() { return RBENCH_SOURCE_DIR; }

fs::path shared_dir() {
  if (const char* env = std::getenv("RBENCH_SHARED")) return env;
  return source_dir() / ".." / "shared";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

namespace {

int spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
          const fs::path& out_path, const fs::path& err_path) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    std::string binary = rbench_binary();
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (auto& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout_s`; kills it when the time is up.
void wait_for(int pid, double timeout_s, CommandResult& result) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

}  // namespace

CommandResult run_rbench(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         double timeout_s) {
  BackgroundProcess process(args, env);
  return process.wait(timeout_s);
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env)
    : out_path_(dir_ / "stdout"), err_path_(dir_ / "stderr") {
  pid_ = spawn(args, env, out_path_, err_path_);
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) kill_hard();
}

bool BackgroundProcess::running() {
  if (pid_ <= 0) return false;
  // Peek without reaping, so wait() still collects the exit status.
  siginfo_t info{};
  info.si_pid = 0;
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

void BackgroundProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

CommandResult BackgroundProcess::wait(double timeout_s) {
  CommandResult result;
  if (pid_ > 0) wait_for(pid_, timeout_s, result);
  pid_ = -1;
  result.out = read_file(out_path_);
  result.err = read_file(err_path_);
  return result;
}

}  // namespace rbench::testing
