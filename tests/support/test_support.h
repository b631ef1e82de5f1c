#pragma once
// Helpers shared by the tests: temporary directories, running the rbench binary, finding ../shared.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rbench::testing {

// A fresh directory under /tmp, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;   // -1 when killed by a signal
  int signal = 0;       // the signal that ended it, if any
  std::string out;
  std::string err;
};

// Runs the built rbench binary with `args`; the environment is the test's plus `env`.
CommandResult run_rbench(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                         double timeout_s = 120.0);

// Starts rbench in the background; the caller waits or kills it.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();  // kills it if still running
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  void kill_hard();          // SIGKILL and reap
  CommandResult wait(double timeout_s = 120.0);
  bool running();

 private:
  TempDir dir_;  // first: the paths below live in it
  std::filesystem::path out_path_, err_path_;
  int pid_ = -1;
};

// Sets (or, with nullopt, unsets) environment variables and restores them when it dies.
class ScopedEnvironment {
 public:
  ScopedEnvironment() = default;
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
  ~ScopedEnvironment();
  ScopedEnvironment& set(const std::string& name, const std::optional<std::string>& value);

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

std::string rbench_binary();
std::filesystem::path source_dir();
// RBENCH_SHARED if set, else <source>/../shared. Tests that need it skip when it is absent.
std::filesystem::path shared_dir();
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace rbench::testing
