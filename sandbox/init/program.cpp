#include "sandbox/init/program.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "sandbox/init/init_util.h"
#include "sandbox/init/seccomp_filter.h"

namespace rbench::sandbox::init {

namespace {

constexpr const char* default_path = "/usr/local/bin:/usr/bin:/bin";

// PATH, HOME and LANG, then the caller's variables (which may replace those three); nothing inherited.
std::vector<std::string> program_environment(const protocol::InitConfig& config, const std::string& work_dir) {
  std::vector<std::pair<std::string, std::string>> variables = {
      {"PATH", default_path}, {"HOME", work_dir}, {"LANG", "C.UTF-8"}};
  for (const auto& [name, value] : config.env) {
    auto same = std::find_if(variables.begin(), variables.end(), [&](const auto& v) { return v.first == name; });
    if (same != variables.end()) {
      same->second = value;
    } else {
      variables.emplace_back(name, value);
    }
  }
  std::vector<std::string> entries;
  for (const auto& [name, value] : variables) entries.push_back(name + "=" + value);
  return entries;
}

std::string search_path(const std::vector<std::string>& environment) {
  for (const auto& entry : environment) {
    if (entry.rfind("PATH=", 0) == 0) return entry.substr(5);
  }
  return "";
}

// What execvp would run, looked up in the sandbox's own PATH (not the host's: a pyenv shim on the
// host's PATH does not exist in here).
std::optional<std::string> find_executable(const std::string& name, const std::string& path_list) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path_list.size()) {
    const size_t end = std::min(path_list.find(':', start), path_list.size());
    const std::string dir = end > start ? path_list.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + name;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Never above the current hard limit (an unprivileged caller cannot raise it).
void set_limit(int resource, rlim_t soft, rlim_t hard, const char* name) {
  struct rlimit current {};
  if (::getrlimit(resource, &current) != 0) throw_system_error(std::string("getrlimit ") + name);
  struct rlimit wanted {};
  wanted.rlim_max = std::min(hard, current.rlim_max);
  wanted.rlim_cur = std::min(soft, wanted.rlim_max);
  if (::setrlimit(resource, &wanted) != 0) throw_system_error(std::string("setrlimit ") + name);
}

void apply_rlimits(const protocol::InitConfig& config) {
  const Limits& limits = config.limits;
  // SIGXCPU at the limit; if the program handles it, SIGKILL a second later (DMOJ's soft/hard pair).
  const auto cpu = static_cast<rlim_t>(std::max(1.0, std::ceil(limits.cpu_seconds)));
  set_limit(RLIMIT_CPU, cpu, cpu + 1, "RLIMIT_CPU");
  const auto file_size = static_cast<rlim_t>(limits.file_size_bytes);
  set_limit(RLIMIT_FSIZE, file_size, file_size, "RLIMIT_FSIZE");
  const auto open_files = static_cast<rlim_t>(limits.open_files);
  set_limit(RLIMIT_NOFILE, open_files, open_files, "RLIMIT_NOFILE");
  set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE");
  if (config.isolate) {
    // Counted per user namespace, so only the sandbox's own tasks count; +1 for its init.
    const auto tasks = static_cast<rlim_t>(limits.max_processes) + 1;
    set_limit(RLIMIT_NPROC, tasks, tasks, "RLIMIT_NPROC");
  }
  if (config.limit_address_space) {
    const auto bytes = static_cast<rlim_t>(limits.memory_mb) << 20;
    set_limit(RLIMIT_AS, bytes, bytes, "RLIMIT_AS");
  }
}

// Empty bounding, ambient, permitted and effective sets: execve can give nothing back.
void drop_capabilities() {
  for (int cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) throw_system_error("drop capability " + std::to_string(cap));
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) throw_system_error("clear ambient capabilities");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) throw_system_error("capset");
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

}  // namespace

void exec_program(const protocol::InitConfig& config, const std::string& work_dir) {
  std::vector<std::string> argv = config.argv;
  std::vector<std::string> environment;
  std::optional<std::string> executable;
  try {
    if (::setsid() < 0) throw_system_error("setsid");  // no controlling terminal: TIOCSTI has no target
    reset_signals();  // nothing blocked or ignored: the supervisor's choices are not the program's
    ::umask(022);
    if (::chdir(work_dir.c_str()) != 0) throw_system_error("chdir " + work_dir);
    apply_rlimits(config);
    environment = program_environment(config, work_dir);
    executable = find_executable(argv.at(0), search_path(environment));
    if (!executable) {
      report("exec_error", "cannot execute '" + argv[0] + "': not found in PATH " + search_path(environment));
      ::_exit(127);
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_system_error("PR_SET_NO_NEW_PRIVS");
    // An unprivileged caller's unsandboxed program has no capabilities (nor the right to drop them).
    if (config.isolate || ::geteuid() == 0) drop_capabilities();
    // Everything but 0-2 closes at execve; the report pipe stays open until then for the error below.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) throw_system_error("close_range");
    install_seccomp_filter();
  } catch (const std::exception& e) {
    report("setup_error", e.what());
    ::_exit(127);
  }
  auto argv_pointers = pointers(argv);
  auto environment_pointers = pointers(environment);
  ::execve(executable->c_str(), argv_pointers.data(), environment_pointers.data());
  report("exec_error", "cannot execute '" + argv[0] + "': " + std::strerror(errno));
  ::_exit(127);
}

}  // namespace rbench::sandbox::init
