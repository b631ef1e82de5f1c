#pragma once
// The filesystem a sandboxed program sees, built inside its fresh mount namespace: the system
// directories read-only, a private work directory and /tmp, a minimal /dev, a /proc of its own pid
// namespace, the caller's extra read-only paths, and nothing else of the host.
#include <string>
#include <vector>

#include "sandbox/protocol.h"

namespace rbench::sandbox::init {

// One of the caller's paths (a read-only path, or the host work directory), opened (O_PATH) while the
// process still has the caller's host identity: a path only root may traverse can then be shown to
// the sandbox user, who still needs the permissions of the files themselves.
struct CallerPath {
  std::string path;
  bool writable = false;
  int fd = -1;  // closed once mounted
};
std::vector<CallerPath> open_caller_paths(const protocol::InitConfig& config);  // throws std::runtime_error

// Builds the tree and makes it the root (pivot_root); returns the work directory's path inside.
// Must run as the sandbox's pid 1 with CAP_SYS_ADMIN in its user namespace, as the sandbox user
// (files it creates need an owner mapped in the namespace). Throws std::runtime_error.
std::string build_mount_tree(const protocol::InitConfig& config, const std::vector<CallerPath>& caller_paths);

}  // namespace rbench::sandbox::init
