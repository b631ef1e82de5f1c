// The supervisor side of the sandbox: checks the spec, creates the run's cgroup, hands the config to
// rbench-sandbox-init (started through Boost.Process, see launcher.h), captures stdout and stderr with
// a cap, enforces the wall clock (and the tree's CPU time where a cgroup accounts it), and turns what
// happened into a Result. The isolation itself is built by the init program (sandbox/init/).
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "sandbox/cgroup.h"
#include "sandbox/launcher.h"
#include "sandbox/protocol.h"
#include "sandbox/unique_fd.h"

namespace rbench::sandbox {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_unsafe_no_sandbox{false};

// When the supervisor is root, the sandbox user is nobody/nogroup on the host (never root: a process
// mapped to host root could write root-owned files reachable through /proc, such as sysctls).
constexpr uint32_t root_mode_host_id = 65534;
constexpr size_t report_cap_bytes = 64 << 10;
constexpr int pipe_buffer_bytes = 1 << 20;
constexpr auto kill_grace = std::chrono::seconds(2);  // SIGTERM to the init program, then SIGKILL
constexpr auto cpu_check_interval = std::chrono::milliseconds(100);

// Raw system calls: glibc 2.36's <sys/pidfd.h> declares its wrappers without C linkage.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
void send_signal(const UniqueFd& pidfd, int signal_number) {
  ::syscall(SYS_pidfd_send_signal, pidfd.get(), signal_number, nullptr, 0);
}

[[noreturn]] void throw_errno(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// ---- checking the spec ----

void check_limits(const Limits& limits) {
  const auto require = [](bool ok, const std::string& field, double value, const char* rule) {
    if (!ok) throw std::runtime_error("Limits." + field + " must be " + rule + " (got " + std::to_string(value) + ")");
  };
  require(std::isfinite(limits.cpu_seconds) && limits.cpu_seconds > 0, "cpu_seconds", limits.cpu_seconds, "> 0");
  require(std::isfinite(limits.wall_seconds) && limits.wall_seconds > 0, "wall_seconds", limits.wall_seconds, "> 0");
  require(limits.memory_mb > 0, "memory_mb", static_cast<double>(limits.memory_mb), "> 0");
  require(limits.max_processes >= 1, "max_processes", limits.max_processes, ">= 1");
  require(limits.file_size_bytes >= 0, "file_size_bytes", static_cast<double>(limits.file_size_bytes), ">= 0");
  require(limits.open_files >= 3, "open_files", limits.open_files, ">= 3 (stdin, stdout, stderr)");
  require(limits.output_bytes >= 0, "output_bytes", static_cast<double>(limits.output_bytes), ">= 0");
  require(limits.work_dir_mb >= 1, "work_dir_mb", static_cast<double>(limits.work_dir_mb), ">= 1");
}

void check_input_path(const std::string& path) {
  const fs::path relative(path);
  bool ok = !path.empty() && relative.is_relative();
  for (const auto& part : relative) ok = ok && part != ".." && part != "." && !part.empty();
  if (!ok) {
    throw std::runtime_error("input file '" + path +
                             "': the path must be relative to the work directory, without '.', '..' or empty parts");
  }
}

void check_spec(const RunSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty()) throw std::runtime_error("RunSpec.argv is empty: nothing to run");
  for (const auto& file : spec.files) check_input_path(file.path);
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      throw std::runtime_error("environment variable name '" + name + "' is empty or contains '='");
    }
  }
  check_limits(spec.limits);
}

std::string canonical_host_path(const std::string& path, const char* field) {
  if (path.empty() || path.front() != '/') {
    throw std::runtime_error(std::string(field) + " '" + path + "' must be an absolute path");
  }
  std::error_code error;
  const fs::path canonical = fs::canonical(path, error);
  if (error) throw std::runtime_error(std::string(field) + " '" + path + "': " + error.message());
  return canonical.string();
}

protocol::InitConfig make_config(const RunSpec& spec, bool isolate, const RunCgroup* cgroup) {
  protocol::InitConfig config;
  config.isolate = isolate;
  config.supervisor_pid = ::getpid();
  const bool root = ::geteuid() == 0;
  config.host_uid = root ? root_mode_host_id : ::geteuid();
  config.host_gid = root ? root_mode_host_id : ::getegid();
  config.argv = spec.argv;
  config.env = spec.env;
  config.files = spec.files;
  if (!spec.host_work_dir.empty()) {
    config.host_work_dir = canonical_host_path(spec.host_work_dir, "host_work_dir");
    if (!fs::is_directory(config.host_work_dir)) {
      throw std::runtime_error("host_work_dir '" + spec.host_work_dir + "' is not a directory");
    }
  }
  for (const auto& path : spec.read_only_paths) {
    config.read_only_paths.push_back(canonical_host_path(path, "read-only path"));
  }
  config.limits = spec.limits;
  config.limit_address_space = cgroup == nullptr;
  if (cgroup != nullptr) config.cgroup_procs_files = cgroup->procs_files();
  return config;
}

// As root the sandbox user is nobody on the host: the directory it must write becomes its own.
void hand_over_to_sandbox_user(const std::string& dir) {
  const auto give = [](const fs::path& path) {
    if (::lchown(path.c_str(), root_mode_host_id, root_mode_host_id) != 0) throw_errno("chown " + path.string());
  };
  give(dir);
  for (const auto& entry : fs::recursive_directory_iterator(dir)) give(entry.path());  // symlinks not followed
}

// ---- descriptors ----

// Read-only data for the sandbox (its config, the program's stdin): a file nobody can change.
UniqueFd sealed_memfd(const char* name, std::string_view content) {
  constexpr unsigned no_exec_seal = 0x0008U;  // MFD_NOEXEC_SEAL (Linux 6.3+); older kernels refuse it
  int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | no_exec_seal);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw_errno("memfd_create");
  UniqueFd file(fd);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write the sandbox's input");
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) throw_errno("lseek");
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) throw_errno("seal");
  return file;
}

struct Pipe {
  UniqueFd read, write;
};

// Both ends close-on-exec (the init program gets its end by dup2); the read end non-blocking.
Pipe make_pipe(bool large_buffer) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (::fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) throw_errno("fcntl O_NONBLOCK");
  if (large_buffer) ::fcntl(fds[0], F_SETPIPE_SZ, pipe_buffer_bytes);  // fewer wake-ups; best effort
  return pipe;
}

// One output stream, kept up to `cap` bytes. Past the cap it stops reading (the program is killed),
// so the supervisor's memory stays bounded whatever the program writes.
class StreamCapture {
 public:
  StreamCapture(UniqueFd fd, size_t cap) : fd_(std::move(fd)), cap_(cap) {}
  int fd() const { return fd_.get(); }
  bool truncated() const { return truncated_; }
  std::string take() { return std::move(data_); }
  const std::string& data() const { return data_; }

  // Reads whatever is there now; never blocks.
  void drain() {
    char buffer[1 << 16];
    while (fd_) {
      const size_t room = cap_ - data_.size();
      const ssize_t n = ::read(fd_.get(), buffer, std::min(sizeof buffer, room + 1));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;  // EAGAIN: nothing more for now
      if (n == 0) {
        fd_.reset();
        return;
      }
      if (static_cast<size_t>(n) > room) {
        data_.append(buffer, room);
        truncated_ = true;
        fd_.reset();
        return;
      }
      data_.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  UniqueFd fd_;
  size_t cap_;
  std::string data_;
  bool truncated_ = false;
};

// ---- watching the run ----

enum class KillReason { none, wall_time, cpu_time, output };

class Supervisor {
 public:
  Supervisor(pid_t init, const UniqueFd& pidfd, const Limits& limits, RunCgroup* cgroup, Clock::time_point started)
      : init_(init),
        pidfd_(pidfd),
        limits_(limits),
        cgroup_(cgroup),
        wall_deadline_(started + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(limits.wall_seconds))) {}

  // Until the init program has exited (which happens only once the sandbox is empty); its wait status.
  int watch(StreamCapture& out, StreamCapture& err, StreamCapture& report) {
    for (;;) {
      pollfd fds[] = {{out.fd(), POLLIN, 0}, {err.fd(), POLLIN, 0}, {report.fd(), POLLIN, 0},
                      {pidfd_.get(), POLLIN, 0}};
      ::poll(fds, 4, poll_timeout_ms());
      out.drain();
      err.drain();
      report.drain();
      if (out.truncated() || err.truncated()) request_kill(KillReason::output);
      if (fds[3].revents & POLLIN) break;
      enforce_limits();
    }
    int status = 0;
    while (::waitpid(init_, &status, 0) < 0 && errno == EINTR) {
    }
    // What the sandbox wrote before it ended; nothing waits for EOF (a writer could be a process of
    // another run that inherited the pipe for a moment).
    out.drain();
    err.drain();
    report.drain();
    return status;
  }

  KillReason kill_reason() const { return kill_reason_; }

 private:
  int poll_timeout_ms() const {
    if (sigkill_sent_) return -1;  // exits promptly; nothing else to enforce
    const auto now = Clock::now();
    const bool killing = kill_reason_ != KillReason::none;
    Clock::time_point next = killing ? kill_deadline_ : wall_deadline_;
    if (!killing && cgroup_ != nullptr) next = std::min(next, now + cpu_check_interval);
    if (next <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
  }

  void enforce_limits() {
    const auto now = Clock::now();
    if (now >= wall_deadline_) request_kill(KillReason::wall_time);
    if (cgroup_ != nullptr && kill_reason_ == KillReason::none) {
      const auto used_us = cgroup_->cpu_usage_us();
      if (used_us && *used_us >= limits_.cpu_seconds * 1e6) request_kill(KillReason::cpu_time);
    }
    if (now >= kill_deadline_ && !sigkill_sent_) {
      send_signal(pidfd_, SIGKILL);  // the sandbox dies with it (PDEATHSIG)
      sigkill_sent_ = true;
    }
  }

  // SIGKILL, no grace, for the sandbox: the init program kills the pid namespace's init at once (and
  // with a cgroup, everything in it dies now too); the init program itself gets a moment to report.
  void request_kill(KillReason reason) {
    if (kill_reason_ != KillReason::none) return;
    kill_reason_ = reason;
    send_signal(pidfd_, SIGTERM);
    if (cgroup_ != nullptr) cgroup_->kill_all();
    kill_deadline_ = Clock::now() + kill_grace;
  }

  pid_t init_;
  const UniqueFd& pidfd_;
  const Limits& limits_;
  RunCgroup* cgroup_;
  Clock::time_point wall_deadline_;
  Clock::time_point kill_deadline_ = Clock::time_point::max();  // set by request_kill
  bool sigkill_sent_ = false;
  KillReason kill_reason_ = KillReason::none;
};

// ---- the verdict ----

struct Outcome {
  protocol::InitReport report;
  int init_status = 0;
  KillReason kill_reason = KillReason::none;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  int64_t oom_kills = 0;
  std::optional<int64_t> cgroup_cpu_us;
};

std::string seconds_text(double seconds) {
  std::string text = std::to_string(seconds);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text + " s";
}

std::string signal_text(int signal_number) {
  const char* name = ::sigabbrev_np(signal_number);
  return std::to_string(signal_number) + (name != nullptr ? std::string(" (SIG") + name + ")" : "");
}

std::string init_status_text(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "signal " + signal_text(WTERMSIG(status));
}

void set_status(Result& result, Status status, std::string message) {
  result.status = status;
  result.message = std::move(message);
}

// The program's own end, when no limit the supervisor watches decided it.
void classify_program_end(int wait_status, const Limits& limits, Result& result) {
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
    result.status = result.exit_code == 0 ? Status::ok : Status::runtime_error;
    return;
  }
  const int signal_number = WTERMSIG(wait_status);
  result.signal = signal_number;
  const bool cpu_spent = result.cpu_ms >= static_cast<int64_t>(limits.cpu_seconds * 1000);
  if (signal_number == SIGXCPU || (signal_number == SIGKILL && cpu_spent)) {  // RLIMIT_CPU soft, then hard
    set_status(result, Status::timeout, "cpu time limit of " + seconds_text(limits.cpu_seconds));
  } else if (signal_number == SIGXFSZ) {
    set_status(result, Status::runtime_error,
               "file size limit of " + std::to_string(limits.file_size_bytes) + " bytes (signal 25, SIGXFSZ)");
  } else {
    set_status(result, Status::killed, "killed by signal " + signal_text(signal_number));
  }
}

void classify(const Outcome& outcome, const Limits& limits, Result& result) {
  const auto& report = outcome.report;
  result.cpu_ms = outcome.cgroup_cpu_us.value_or(report.cpu_us.value_or(0)) / 1000;
  result.max_rss_kb = report.max_rss_kb;
  result.stdout_truncated = outcome.stdout_truncated;
  result.stderr_truncated = outcome.stderr_truncated;
  if (report.wait_status) classify_program_end(*report.wait_status, limits, result);
  if (report.setup_error) return set_status(result, Status::setup_error, "sandbox setup: " + *report.setup_error);
  if (report.exec_error) return set_status(result, Status::setup_error, *report.exec_error);
  if (outcome.stdout_truncated || outcome.stderr_truncated) {
    return set_status(result, Status::output_limit,
                      std::string("output limit: more than ") + std::to_string(limits.output_bytes) + " bytes on " +
                          (outcome.stdout_truncated ? "stdout" : "stderr"));
  }
  if (outcome.kill_reason == KillReason::wall_time) {
    return set_status(result, Status::timeout, "wall time limit of " + seconds_text(limits.wall_seconds));
  }
  if (outcome.oom_kills > 0) {
    return set_status(result, Status::memory_limit, "memory limit of " + std::to_string(limits.memory_mb) + " MB");
  }
  if (outcome.kill_reason == KillReason::cpu_time) {
    return set_status(result, Status::timeout, "cpu time limit of " + seconds_text(limits.cpu_seconds));
  }
  if (!report.wait_status) {
    set_status(result, Status::setup_error,
               "the sandbox ended without the program's status (rbench-sandbox-init: " +
                   init_status_text(outcome.init_status) + ")");
  }
}

// ---- one run ----

void supervised_run(const RunSpec& spec, bool isolate, Clock::time_point started, Result& result) {
  check_spec(spec);
  const std::string init_program = init_program_path();
  std::optional<RunCgroup> cgroup;
  if (cgroup_support().available) cgroup.emplace(spec.limits);
  const protocol::InitConfig config = make_config(spec, isolate, cgroup ? &*cgroup : nullptr);
  if (isolate && ::geteuid() == 0 && !config.host_work_dir.empty()) hand_over_to_sandbox_user(config.host_work_dir);

  UniqueFd config_fd = sealed_memfd("rbench-sandbox-config", protocol::encode(config));
  UniqueFd stdin_fd = sealed_memfd("rbench-sandbox-stdin", spec.stdin_data);
  Pipe out = make_pipe(true), err = make_pipe(true), report = make_pipe(false);
  const pid_t init = start_init_program(
      init_program, {stdin_fd.get(), out.write.get(), err.write.get(), config_fd.get(), report.write.get()});
  for (UniqueFd* given : {&out.write, &err.write, &report.write, &config_fd, &stdin_fd}) given->reset();
  UniqueFd pidfd(open_pidfd(init));
  if (!pidfd) {
    const int open_errno = errno;
    ::kill(init, SIGKILL);
    ::waitpid(init, nullptr, 0);
    errno = open_errno;
    throw_errno("pidfd_open (Linux 5.3 or later is needed)");
  }

  const auto output_cap = static_cast<size_t>(spec.limits.output_bytes);
  StreamCapture stdout_capture(std::move(out.read), output_cap);
  StreamCapture stderr_capture(std::move(err.read), output_cap);
  StreamCapture report_capture(std::move(report.read), report_cap_bytes);
  Supervisor supervisor(init, pidfd, spec.limits, cgroup ? &*cgroup : nullptr, started);
  Outcome outcome;
  outcome.init_status = supervisor.watch(stdout_capture, stderr_capture, report_capture);
  outcome.kill_reason = supervisor.kill_reason();
  outcome.report = protocol::parse_report(report_capture.data());
  outcome.stdout_truncated = stdout_capture.truncated();
  outcome.stderr_truncated = stderr_capture.truncated();
  if (cgroup) {
    outcome.oom_kills = cgroup->oom_kills();
    outcome.cgroup_cpu_us = cgroup->cpu_usage_us();
  }
  classify(outcome, spec.limits, result);
  result.stdout_data = stdout_capture.take();
  result.stderr_data = stderr_capture.take();
}

Result execute(const RunSpec& spec, bool isolate) {
  Result result;
  const auto started = Clock::now();
  try {
    supervised_run(spec, isolate, started, result);
  } catch (const std::exception& e) {
    result.status = Status::setup_error;
    result.message = std::string("sandbox setup: ") + e.what();
  }
  result.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!isolate) result.message += (result.message.empty() ? "" : "; ") + std::string("ran WITHOUT isolation");
  return result;
}

}  // namespace

const char* status_name(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::runtime_error: return "runtime_error";
    case Status::timeout: return "timeout";
    case Status::memory_limit: return "memory_limit";
    case Status::output_limit: return "output_limit";
    case Status::killed: return "killed";
    case Status::setup_error: return "setup_error";
  }
  return "setup_error";
}

void set_unsafe_no_sandbox(bool enabled) { g_unsafe_no_sandbox = enabled; }

Result run(const RunSpec& spec) { return execute(spec, !g_unsafe_no_sandbox); }

Capability probe() {
  static const Capability capability = [] {
    Capability result;
    const CgroupSupport cgroups = cgroup_support();
    result.cgroups = cgroups.available;
    result.cgroup_version = cgroups.version;
    RunSpec trial;
    trial.argv = {"/bin/true"};
    trial.limits.cpu_seconds = 5;
    trial.limits.wall_seconds = 10;
    const Result outcome = execute(trial, true);
    result.available = outcome.status == Status::ok;
    if (!result.available) {
      result.reason = outcome.message.empty() ? status_name(outcome.status) : outcome.message;
    } else if (!cgroups.available) {
      result.reason = "isolation works, but without cgroups (" + cgroups.reason +
                      "): memory is limited per process by RLIMIT_AS (a program out of memory sees failed "
                      "allocations, not memory_limit) and processes by RLIMIT_NPROC";
    }
    return result;
  }();
  return capability;
}

}  // namespace rbench::sandbox
