#pragma once
// Starting rbench-sandbox-init, the small program that builds and supervises the sandbox from the
// inside (sandbox/init/main.cpp), through Boost.Process.
#include <sys/types.h>

#include <string>

namespace rbench::sandbox {

// $RBENCH_SANDBOX_INIT, else rbench-sandbox-init next to the running executable, else where the build
// put it. Throws std::runtime_error naming every place it looked.
std::string init_program_path();

// The supervisor's descriptors that become the init program's 0-4 (protocol.h).
struct InitDescriptors {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int config_fd = -1;
  int report_fd = -1;
};

// fork + execve of `path` with exactly those five descriptors, an empty environment, and SIGKILL
// armed for when the calling thread dies. Returns the pid, which the caller reaps (Boost's child
// handle is detached). Throws std::runtime_error when it cannot start.
pid_t start_init_program(const std::string& path, const InitDescriptors& descriptors);

}  // namespace rbench::sandbox
