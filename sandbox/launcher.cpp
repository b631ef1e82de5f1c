#include "sandbox/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "sandbox/protocol.h"
#include "sandbox/unique_fd.h"

namespace rbench::sandbox {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

constexpr const char* init_program_name = "rbench-sandbox-init";

bool is_executable_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

std::string find_init_program() {
  if (const char* configured = std::getenv("RBENCH_SANDBOX_INIT"); configured != nullptr && *configured != '\0') {
    if (is_executable_file(configured)) return configured;
    throw std::runtime_error(std::string("RBENCH_SANDBOX_INIT=") + configured + " is not an executable file");
  }
  std::vector<fs::path> candidates;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back(self.parent_path() / init_program_name);
  candidates.emplace_back(RBENCH_SANDBOX_INIT_PATH);
  std::string looked;
  for (const auto& candidate : candidates) {
    if (is_executable_file(candidate)) return candidate.string();
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  throw std::runtime_error(std::string(init_program_name) + " not found (looked at " + looked +
                           "); build it or set RBENCH_SANDBOX_INIT");
}

// Runs in the forked child right before execve. The supervisor may have other threads (holding malloc's
// locks, say), so only system calls here: no allocation, no error reporting through Boost (which
// allocates); a failure ends the child with 126 and the supervisor says the init program did not start.
struct IsolateDescriptorsAndArmDeathSignal : bp::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    // Only 0-4 survive execve: not this process's other files, not other runs' pipes.
    if (::close_range(5, ~0U, CLOSE_RANGE_CLOEXEC) != 0) ::_exit(126);
    // The init program (and through it the sandbox) dies with the thread that started it.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) ::_exit(126);
  }
};

// dup2() onto 0-4 must not overwrite a descriptor still to be copied: anything below 5 moves up.
UniqueFd above_target_range(int fd) {
  if (fd >= 5) return UniqueFd();
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) throw std::runtime_error("sandbox: cannot duplicate a descriptor");
  return UniqueFd(moved);
}

}  // namespace

std::string init_program_path() {
  static const std::string path = find_init_program();  // a throw leaves it unset: the next call retries
  return path;
}

pid_t start_init_program(const std::string& path, const InitDescriptors& descriptors) {
  const int sources[] = {descriptors.stdin_fd, descriptors.stdout_fd, descriptors.stderr_fd, descriptors.config_fd,
                         descriptors.report_fd};
  UniqueFd moved[5];
  int fds[5];
  for (int i = 0; i < 5; ++i) {
    moved[i] = above_target_range(sources[i]);
    fds[i] = moved[i] ? moved[i].get() : sources[i];
  }
  static_assert(protocol::config_fd == 3 && protocol::report_fd == 4, "the descriptors bound below");
  try {
    bp::child child(bp::exe = path, bp::environment(), bp::posix::fd.bind(0, fds[0]), bp::posix::fd.bind(1, fds[1]),
                    bp::posix::fd.bind(2, fds[2]), bp::posix::fd.bind(3, fds[3]), bp::posix::fd.bind(4, fds[4]),
                    IsolateDescriptorsAndArmDeathSignal{});
    const pid_t pid = child.id();
    child.detach();  // the supervisor reaps it with wait4, which also gives its resource usage
    return pid;
  } catch (const bp::process_error& e) {
    throw std::runtime_error(std::string("sandbox: cannot start ") + path + ": " + e.what());
  }
}

}  // namespace rbench::sandbox
