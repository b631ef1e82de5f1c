#pragma once
// Pid 1 of the sandbox's pid namespace: becomes the sandbox user, builds the filesystem, writes the
// input files, starts the program and reaps every process until the program ends. When it exits the
// kernel kills whatever is left in the namespace (daemons, double forks, setsid included).
#include "sandbox/protocol.h"

namespace rbench::sandbox::init {

// Runs in the process clone() created with the new namespaces, once its uid/gid maps are written.
[[noreturn]] void run_sandbox_init(const protocol::InitConfig& config);

}  // namespace rbench::sandbox::init
