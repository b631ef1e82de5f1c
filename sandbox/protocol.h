#pragma once
// What the supervisor (sandbox.cpp) tells rbench-sandbox-init, and what the init program reports back.
// The config travels in a sealed memfd on descriptor 3; the report comes back as text lines on the pipe
// at descriptor 4. Both sides are built from this one file, so they cannot disagree.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/sandbox.h"

namespace rbench::sandbox::protocol {

// The init program's descriptors: 0-2 are the program's stdin, stdout and stderr.
constexpr int config_fd = 3;
constexpr int report_fd = 4;

// Inside the user namespace the program runs as this uid and gid (never 0: nothing inside is root).
constexpr uint32_t sandbox_id = 1000;
// The private work directory inside the sandbox when no host directory is mounted there.
constexpr const char* box_dir = "/box";

struct InitConfig {
  bool isolate = true;           // false only on the user's explicit unsafe opt-in: limits, no namespaces
  int supervisor_pid = 0;        // the init program gives up if its parent is no longer this process
  uint32_t host_uid = 0;         // what sandbox_id maps to outside
  uint32_t host_gid = 0;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // the caller's additions to the clean environment
  std::vector<InputFile> files;
  std::string host_work_dir;                  // canonical path; empty: a fresh tmpfs at box_dir
  std::vector<std::string> read_only_paths;   // canonical paths
  Limits limits;
  bool limit_address_space = false;           // RLIMIT_AS = memory limit: no cgroup memory controller
  std::vector<std::string> cgroup_procs_files;  // the run's cgroup.procs files, joined before anything runs
};

std::string encode(const InitConfig& config);
InitConfig decode(std::string_view bytes);  // throws std::runtime_error naming what is malformed

// One report line: "<kind> <text>\n". Kinds:
//   setup_error <message>   the sandbox could not be built (mounts, maps, limits, ...)
//   exec_error <message>    the program could not be executed
//   exit <wait status>      how the program (the sandbox's first process) ended
//   usage <user_us> <system_us> <max_rss_kb>   resources of every process the sandbox reaped
std::string report_line(std::string_view kind, std::string_view text);

struct InitReport {
  std::optional<std::string> setup_error;
  std::optional<std::string> exec_error;
  std::optional<int> wait_status;
  std::optional<int64_t> cpu_us;
  int64_t max_rss_kb = 0;
};
InitReport parse_report(std::string_view text);

}  // namespace rbench::sandbox::protocol
