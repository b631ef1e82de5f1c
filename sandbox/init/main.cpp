// rbench-sandbox-init: the supervisor (sandbox.cpp) starts it through Boost.Process with descriptors
// 0-4 wired as protocol.h says, an empty environment, and SIGKILL armed for when the supervisor dies.
//
// It stays on the host side as the bridge into the sandbox: it creates the sandbox's first process
// with fresh user, mount, pid, network, IPC and UTS namespaces, puts it in the run's cgroups, writes
// its uid/gid maps (only a process outside the new user namespace may map it to an unprivileged host
// uid), lets it go and reaps it. The kernel makes that reap wait until the whole pid namespace is
// empty, so when this program exits nothing of the run is left.
//
// SIGTERM from the supervisor means "end the run now": the sandbox's pid 1 gets SIGKILL, which takes
// every process of its namespace with it, and the usual report follows.
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "sandbox/init/init_util.h"
#include "sandbox/init/program.h"
#include "sandbox/init/sandbox_init.h"
#include "sandbox/init/work_files.h"
#include "sandbox/protocol.h"

namespace {

using namespace rbench::sandbox;
using namespace rbench::sandbox::init;

volatile sig_atomic_t g_sandbox_pid = 0;
volatile sig_atomic_t g_kill_process_group = 0;  // unsandboxed runs have no pid namespace to end

void on_terminate(int) {
  const pid_t pid = g_sandbox_pid;
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  if (g_kill_process_group) ::kill(-pid, SIGKILL);
}

constexpr int namespace_flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

std::string read_config() {
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(protocol::config_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error("read the sandbox config");
    if (n == 0) return bytes;
    bytes.append(buffer, static_cast<size_t>(n));
  }
}

void set_sigterm_blocked(bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// The child waits here until the bridge has set it up; if the bridge dies first, so does the child.
void wait_for_go(int go_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char byte = 0;
  ssize_t n = 0;
  do {
    n = ::read(go_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(1);
  ::close(go_fd);
  set_sigterm_blocked(false);
}

// fork() with the new namespaces. The raw syscall (no glibc wrapper) leaves glibc's cached thread id
// stale in the child, so the sandbox's init never calls raise(), abort() or pthread functions.
pid_t clone_with_namespaces() {
  return static_cast<pid_t>(::syscall(SYS_clone, namespace_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

void write_id_maps(pid_t child, const protocol::InitConfig& config) {
  const std::string proc = "/proc/" + std::to_string(child);
  const std::string inside = std::to_string(protocol::sandbox_id);
  write_existing_file(proc + "/setgroups", "deny");
  write_existing_file(proc + "/uid_map", inside + " " + std::to_string(config.host_uid) + " 1\n");
  write_existing_file(proc + "/gid_map", inside + " " + std::to_string(config.host_gid) + " 1\n");
}

void join_cgroups(pid_t child, const protocol::InitConfig& config) {
  for (const auto& procs : config.cgroup_procs_files) write_existing_file(procs, std::to_string(child));
}

// The sandbox's pipes must see EOF when the sandbox ends, not when the bridge does.
void detach_standard_streams() {
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; ++fd) null >= 0 ? ::dup2(null, fd) : ::close(fd);
  if (null > 2) ::close(null);
}

int reap(pid_t child, struct rusage& usage) {
  int status = 0;
  while (::wait4(child, &status, __WALL, &usage) < 0) {
    if (errno != EINTR) throw_system_error("wait4");
  }
  return status;
}

void report_usage(const struct rusage& usage) {
  const auto micros = [](const timeval& t) { return static_cast<int64_t>(t.tv_sec) * 1000000 + t.tv_usec; };
  report("usage", std::to_string(micros(usage.ru_utime)) + " " + std::to_string(micros(usage.ru_stime)) + " " +
                      std::to_string(usage.ru_maxrss));
}

// The work directory of an unsandboxed run: the caller's, or a fresh one removed afterwards.
class UnsandboxedWorkDir {
 public:
  explicit UnsandboxedWorkDir(const std::string& host_work_dir) : path_(host_work_dir) {
    if (!path_.empty()) return;
    // Named after the supervisor (our parent), so a caller can tell its own leftovers from others'.
    std::string pattern = "/tmp/rbench-unsandboxed-" + std::to_string(::getppid()) + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw_system_error("mkdtemp " + pattern);
    path_ = temporary_ = pattern;
  }
  ~UnsandboxedWorkDir() {
    std::error_code ignored;
    if (!temporary_.empty()) std::filesystem::remove_all(temporary_, ignored);
  }
  UnsandboxedWorkDir(const UnsandboxedWorkDir&) = delete;
  UnsandboxedWorkDir& operator=(const UnsandboxedWorkDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temporary_;
};

int run_bridge(const protocol::InitConfig& config) {
  std::optional<UnsandboxedWorkDir> unsandboxed_dir;
  if (!config.isolate) {
    unsandboxed_dir.emplace(config.host_work_dir);
    write_input_files(unsandboxed_dir->path(), config.files);
  }
  // Root's supplementary groups (gid 0 among them) would otherwise follow the sandbox's processes.
  if (config.isolate && ::geteuid() == 0 && ::setgroups(0, nullptr) != 0) throw_system_error("setgroups");
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) throw_system_error("pipe");
  set_sigterm_blocked(true);  // until g_sandbox_pid is known
  const pid_t child = config.isolate ? clone_with_namespaces() : ::fork();
  if (child == 0) {
    ::close(go[1]);
    wait_for_go(go[0]);
    if (config.isolate) run_sandbox_init(config);
    exec_program(config, unsandboxed_dir->path());
  }
  const int clone_errno = errno;
  ::close(go[0]);
  if (child < 0) {
    errno = clone_errno;
    throw_system_error(config.isolate ? "cannot create the sandbox's namespaces (clone); are user namespaces "
                                        "allowed for this user? (docs/sandbox.md)"
                                      : "fork");
  }
  g_sandbox_pid = child;
  g_kill_process_group = !config.isolate;
  struct sigaction action {};
  action.sa_handler = on_terminate;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  set_sigterm_blocked(false);

  struct rusage usage {};
  try {
    join_cgroups(child, config);
    if (config.isolate) write_id_maps(child, config);
  } catch (...) {
    ::kill(child, SIGKILL);
    reap(child, usage);
    throw;
  }
  if (::write(go[1], "g", 1) != 1) throw_system_error("release the sandbox");
  ::close(go[1]);
  detach_standard_streams();
  const int status = reap(child, usage);
  if (!config.isolate) {
    report("exit", std::to_string(status));
    ::kill(-child, SIGKILL);  // what is left of its process group
  }
  report_usage(usage);
  return 0;
}

}  // namespace

int main() {
  reset_signals();  // ignored signals (SIGCHLD above all) would survive into the sandbox's init
  try {
    const protocol::InitConfig config = protocol::decode(read_config());
    ::close(protocol::config_fd);
    // PDEATHSIG was armed in the supervisor's child before execve; if the supervisor died before
    // that, this process was re-parented and must not start anything.
    if (::getppid() != config.supervisor_pid) return 1;
    return run_bridge(config);
  } catch (const std::exception& e) {
    report("setup_error", e.what());
    return 1;
  }
}
