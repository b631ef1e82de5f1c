#pragma once
// The last steps before the judged program runs: a new session, rlimits, a clean environment, no
// capabilities, no inherited descriptors beyond 0-2, no new privileges, the seccomp filter, execve.
#include <string>

#include "sandbox/protocol.h"

namespace rbench::sandbox::init {

// Never returns: execs the program, or reports why it could not and exits 127.
[[noreturn]] void exec_program(const protocol::InitConfig& config, const std::string& work_dir);

}  // namespace rbench::sandbox::init
