#pragma once
// The cgroup of one run: memory and pids limits, OOM and CPU accounting, killing everything in it,
// removal. cgroup v2 (one directory with the memory and pids controllers) or v1 (a directory in each
// of the memory, pids and, when mounted, cpuacct hierarchies).
//
// Run cgroups are created inside the supervisor's own cgroup, so whatever holds the supervisor also
// holds the runs. On v2 a cgroup that has processes cannot hand controllers to children, so there the
// root of the cgroup2 mount is tried next (root only), or $RBENCH_SANDBOX_CGROUP names a delegated one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace rbench::sandbox {

struct CgroupSupport {
  bool available = false;
  std::string version;  // "v2" or "v1" when available
  std::string reason;   // why not, when unavailable
};

// What this machine offers; found once per process (mountinfo, /proc/self/cgroup, a trial directory).
CgroupSupport cgroup_support();

class RunCgroup {
 public:
  // Creates the directories and sets the limits (memory without swap, processes + 1 for the sandbox's
  // init). Throws std::runtime_error naming the file that could not be written.
  explicit RunCgroup(const Limits& limits);
  ~RunCgroup();  // kills whatever is left, waits for it to go, removes the directories
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;

  const std::vector<std::string>& procs_files() const { return procs_files_; }
  int64_t oom_kills() const;
  std::optional<int64_t> cpu_usage_us() const;  // the whole tree's CPU time, when accounted
  void kill_all();                              // one pass: SIGKILL (cgroup.kill on v2)

 private:
  bool empty() const;
  bool v2_ = false;
  std::string memory_dir_, pids_dir_, cpu_dir_;  // v2: all three the same directory
  std::vector<std::string> created_;             // removed in reverse order
  std::vector<std::string> procs_files_;
};

}  // namespace rbench::sandbox
