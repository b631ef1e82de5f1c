#include "sandbox/init/sandbox_init.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sandbox/init/init_util.h"
#include "sandbox/init/mount_tree.h"
#include "sandbox/init/program.h"
#include "sandbox/init/work_files.h"

namespace rbench::sandbox::init {

namespace {

constexpr char sandbox_hostname[] = "rbench-sandbox";

// Until here this process has the caller's host identity (open_caller_paths needs it). Capabilities in
// the new user namespace survive this (uid 0 is not mapped there, so the kernel's "leaving root" rule
// never applies); execve drops them later.
void become_sandbox_user() {
  const uid_t id = protocol::sandbox_id;
  if (::setresgid(id, id, id) != 0) throw_system_error("setresgid");
  if (::setresuid(id, id, id) != 0) throw_system_error("setresuid");
}

// The program's pipes must close when it and its children do, not when pid 1 does.
void detach_standard_streams() {
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; ++fd) null >= 0 ? ::dup2(null, fd) : ::close(fd);
  if (null > 2) ::close(null);
}

// Reaps every child (orphans are re-parented to pid 1) until `program` has ended; its wait status.
int reap_until(pid_t program) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, __WALL);
    if (pid == program) return status;
    if (pid < 0 && errno != EINTR) throw_system_error("waitpid");
  }
}

}  // namespace

void run_sandbox_init(const protocol::InitConfig& config) {
  std::string work_dir;
  try {
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // /proc/1 stays closed to the program
    // Now that the bridge has moved this process into the run's cgroup, that cgroup becomes the root
    // of what the sandbox can see of cgroups.
    if (::unshare(CLONE_NEWCGROUP) != 0) throw_system_error("unshare(CLONE_NEWCGROUP)");
    if (::sethostname(sandbox_hostname, sizeof sandbox_hostname - 1) != 0) throw_system_error("sethostname");
    const std::vector<CallerPath> caller_paths = open_caller_paths(config);
    become_sandbox_user();
    work_dir = build_mount_tree(config, caller_paths);
    write_input_files(work_dir, config.files);
  } catch (const std::exception& e) {
    report("setup_error", e.what());
    ::_exit(1);
  }
  const pid_t program = ::fork();
  if (program < 0) {
    report("setup_error", std::string("fork the program: ") + std::strerror(errno));
    ::_exit(1);
  }
  if (program == 0) exec_program(config, work_dir);
  detach_standard_streams();
  try {
    report("exit", std::to_string(reap_until(program)));
  } catch (const std::exception& e) {
    report("setup_error", e.what());
  }
  ::_exit(0);
}

}  // namespace rbench::sandbox::init
