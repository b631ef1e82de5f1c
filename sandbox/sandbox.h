#pragma once
// Isolated execution of untrusted programs (model-written code, test patches). Each run gets fresh
// user/pid/net/mount/ipc/uts namespaces, a read-only view of the system, a private writable work
// directory and /tmp, a clean environment, no inherited descriptors, rlimits, cgroup limits where the
// machine allows (v2 or v1), and a seccomp filter. Nothing here knows about suites or scorers.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rbench::sandbox {

struct Limits {
  double cpu_seconds = 10.0;           // RLIMIT_CPU + cgroup accounting; exceeded -> timeout
  double wall_seconds = 20.0;          // supervisor deadline; exceeded -> timeout (whole tree SIGKILLed)
  int64_t memory_mb = 1024;            // cgroup memory limit (+ RLIMIT_AS fallback); exceeded -> memory_limit
  int max_processes = 64;              // processes + threads (cgroup pids / RLIMIT_NPROC)
  int64_t file_size_bytes = 64 << 20;  // RLIMIT_FSIZE
  int open_files = 256;                // RLIMIT_NOFILE
  int64_t output_bytes = 8 << 20;      // per stream; more -> truncated, marked, status output_limit
  int64_t work_dir_mb = 512;           // size of the private tmpfs work directory and /tmp
};

struct InputFile {
  std::string path;     // relative to the work directory
  std::string content;
  bool executable = false;
};

struct RunSpec {
  std::vector<std::string> argv;    // argv[0]: absolute path, or a name looked up in the sandbox PATH
  std::string stdin_data;
  std::vector<InputFile> files;     // written into the fresh work directory before the run
  // A host directory mounted read-write as the work directory instead of a fresh tmpfs (a SWE-bench
  // checkout), at its own path. Empty: fresh tmpfs at /box. When the supervisor runs as root the
  // sandbox user is nobody (65534) on the host, and this directory is chowned to it for the run.
  std::string host_work_dir;
  std::vector<std::string> read_only_paths;  // extra host paths visible read-only at the same path
  std::vector<std::pair<std::string, std::string>> env;  // added to the clean environment
  Limits limits;
};

enum class Status { ok, runtime_error, timeout, memory_limit, output_limit, killed, setup_error };
const char* status_name(Status status);  // "ok", "runtime_error", ... as in DESIGN.md

struct Result {
  Status status = Status::setup_error;
  int exit_code = -1;                // when the program exited
  int signal = 0;                    // when a signal ended it (SIGXFSZ for the file-size limit, ...)
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  int64_t wall_ms = 0;
  int64_t cpu_ms = 0;
  int64_t max_rss_kb = 0;
  std::string message;               // why, for setup_error / limits ("cpu time limit 2 s", ...)
};

// Runs one program to completion under the sandbox. Never throws for anything the program does;
// isolation that cannot be set up is Status::setup_error with a message saying what failed.
Result run(const RunSpec& spec);

// The explicit opt-in (CLI: --unsafe-no-sandbox) to run every later run() of this process WITHOUT
// isolation: no namespaces, so the program sees the host's files, processes and network; only the
// limits (rlimits, cgroups where usable, the wall clock, a process-group kill), the clean environment
// and the seccomp filter remain. Never the default and never a silent fallback.
void set_unsafe_no_sandbox(bool enabled);

// Whether this machine can isolate (namespaces, mounts, seccomp), and if not, why.
struct Capability {
  bool available = false;
  std::string reason;
  bool cgroups = false;              // cgroup memory/pids limits in use (v2 or v1)
  std::string cgroup_version;        // "v2", "v1" or "" when none
};
Capability probe();

}  // namespace rbench::sandbox
