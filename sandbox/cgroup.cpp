#include "sandbox/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rbench::sandbox {

namespace {

struct Layout {
  bool v2 = false;
  std::string memory_parent, pids_parent, cpu_parent;  // cpu_parent empty: no CPU accounting (v1 only)
};

struct Detected {
  std::optional<Layout> layout;
  CgroupSupport support;
};

struct MountEntry {
  std::string root, mount_point, fs_type;
  std::vector<std::string> super_options;
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape_octal(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<MountEntry> read_mountinfo() {
  std::vector<MountEntry> mounts;
  std::ifstream file("/proc/self/mountinfo");
  for (std::string line; std::getline(file, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const auto before = split(line.substr(0, dash), ' ');
    const auto after = split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3) continue;
    mounts.push_back({unescape_octal(before[3]), unescape_octal(before[4]), after[0], split(after[2], ',')});
  }
  return mounts;
}

// controller -> this process's cgroup path in that hierarchy; "" -> its cgroup v2 path.
std::map<std::string, std::string> own_cgroup_paths() {
  std::map<std::string, std::string> paths;
  std::ifstream file("/proc/self/cgroup");
  for (std::string line; std::getline(file, line);) {
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty()) paths[""] = path;
    for (const auto& controller : split(controllers, ',')) paths[controller] = path;
  }
  return paths;
}

bool has_option(const MountEntry& mount, const std::string& option) {
  for (const auto& o : mount.super_options) {
    if (o == option) return true;
  }
  return false;
}

// Where this process's cgroup of `own_path` appears under `mount`.
std::string directory_in_mount(const MountEntry& mount, const std::string& own_path) {
  std::string relative = own_path;
  if (mount.root != "/") relative = own_path.rfind(mount.root, 0) == 0 ? own_path.substr(mount.root.size()) : "";
  return relative == "/" ? mount.mount_point : mount.mount_point + relative;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

bool try_write(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  file.flush();
  return static_cast<bool>(file);
}

void write_or_throw(const std::string& path, const std::string& text) {
  if (!try_write(path, text)) throw std::runtime_error("cannot write '" + text + "' to " + path);
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

bool words_include(const std::string& text, const std::vector<std::string>& wanted) {
  std::istringstream stream(text);
  std::vector<std::string> words;
  for (std::string word; stream >> word;) words.push_back(word);
  for (const auto& w : wanted) {
    if (std::find(words.begin(), words.end(), w) == words.end()) return false;
  }
  return true;
}

// The value after `key` in a "key value" per line file (memory.events, cpu.stat, memory.oom_control).
std::optional<int64_t> keyed_value(const std::string& path, const std::string& key) {
  std::istringstream stream(read_text(path));
  std::string name;
  int64_t value = 0;
  while (stream >> name >> value) {
    if (name == key) return value;
  }
  return std::nullopt;
}

bool can_create_children(const std::string& parent) {
  const std::string trial = parent + "/rbench-probe-" + std::to_string(::getpid());
  if (::mkdir(trial.c_str(), 0755) != 0) return false;
  ::rmdir(trial.c_str());
  return true;
}

std::optional<Layout> find_v2(const std::vector<MountEntry>& mounts, const std::map<std::string, std::string>& own,
                              std::string& why) {
  const auto mount = std::find_if(mounts.begin(), mounts.end(), [](const auto& m) { return m.fs_type == "cgroup2"; });
  if (mount == mounts.end()) {
    why = "no cgroup2 mount";
    return std::nullopt;
  }
  std::vector<std::string> candidates;
  if (const char* configured = std::getenv("RBENCH_SANDBOX_CGROUP"); configured != nullptr && *configured != '\0') {
    candidates.push_back(configured);
  } else {
    if (own.count("")) candidates.push_back(directory_in_mount(*mount, own.at("")));
    if (candidates.empty() || candidates.front() != mount->mount_point) candidates.push_back(mount->mount_point);
  }
  const std::vector<std::string> needed = {"memory", "pids"};
  for (const auto& candidate : candidates) {
    if (!words_include(read_text(candidate + "/cgroup.controllers"), needed)) continue;
    if (!words_include(read_text(candidate + "/cgroup.subtree_control"), needed) &&
        !try_write(candidate + "/cgroup.subtree_control", "+memory +pids")) {
      continue;
    }
    if (can_create_children(candidate)) return Layout{true, candidate, candidate, candidate};
  }
  why = "cgroup v2 at " + mount->mount_point + ": no cgroup among (" + candidates.front() +
        (candidates.size() > 1 ? ", " + candidates.back() : "") +
        ") offers the memory and pids controllers to children this process can create";
  return std::nullopt;
}

std::optional<std::string> v1_parent(const std::vector<MountEntry>& mounts,
                                     const std::map<std::string, std::string>& own, const std::string& controller) {
  for (const auto& mount : mounts) {
    if (mount.fs_type != "cgroup" || !has_option(mount, controller)) continue;
    const auto path = own.find(controller);
    const std::string parent = directory_in_mount(mount, path == own.end() ? "/" : path->second);
    if (can_create_children(parent)) return parent;
  }
  return std::nullopt;
}

std::optional<Layout> find_v1(const std::vector<MountEntry>& mounts, const std::map<std::string, std::string>& own,
                              std::string& why) {
  const auto memory = v1_parent(mounts, own, "memory");
  const auto pids = v1_parent(mounts, own, "pids");
  if (!memory || !pids) {
    why = std::string("cgroup v1: no writable ") + (!memory ? "memory" : "pids") + " hierarchy";
    return std::nullopt;
  }
  return Layout{false, *memory, *pids, v1_parent(mounts, own, "cpuacct").value_or("")};
}

// Empty run cgroups left by a supervisor that was killed mid-run (its processes died with it).
void remove_stale_run_cgroups(const Layout& layout) {
  for (const std::string& parent : {layout.memory_parent, layout.pids_parent, layout.cpu_parent}) {
    std::error_code error;
    if (parent.empty()) continue;
    for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
      const auto parts = split(entry.path().filename().string(), '-');
      if (parts.size() != 3 || parts[0] != "rbench" || parts[1].find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      if (::kill(std::stoi(parts[1]), 0) != 0 && errno == ESRCH) ::rmdir(entry.path().c_str());
    }
  }
}

const Detected& detected() {
  static const Detected result = [] {
    Detected d;
    const auto mounts = read_mountinfo();
    const auto own = own_cgroup_paths();
    std::string why_not_v2, why_not_v1;
    d.layout = find_v2(mounts, own, why_not_v2);
    if (!d.layout) d.layout = find_v1(mounts, own, why_not_v1);
    d.support.available = d.layout.has_value();
    if (d.layout) d.support.version = d.layout->v2 ? "v2" : "v1";
    if (d.layout) remove_stale_run_cgroups(*d.layout);
    if (!d.layout) d.support.reason = why_not_v2 + "; " + why_not_v1;
    return d;
  }();
  return result;
}

std::string unique_run_name() {
  static std::atomic<uint64_t> counter{0};
  return "rbench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

CgroupSupport cgroup_support() { return detected().support; }

RunCgroup::RunCgroup(const Limits& limits) {
  const auto& layout = detected().layout;
  if (!layout) throw std::runtime_error("no usable cgroups: " + detected().support.reason);
  v2_ = layout->v2;
  const std::string name = unique_run_name();
  const auto create = [&](const std::string& parent) {
    const std::string dir = parent + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir + ": " + std::strerror(errno));
    created_.push_back(dir);
    procs_files_.push_back(dir + "/cgroup.procs");
    return dir;
  };
  try {
    memory_dir_ = create(layout->memory_parent);
    pids_dir_ = v2_ ? memory_dir_ : create(layout->pids_parent);
    if (v2_) cpu_dir_ = memory_dir_;
    if (!v2_ && !layout->cpu_parent.empty()) cpu_dir_ = create(layout->cpu_parent);
    const std::string memory_bytes = std::to_string(limits.memory_mb << 20);
    // The sandbox's init is in the cgroup too.
    write_or_throw(pids_dir_ + "/pids.max", std::to_string(limits.max_processes + 1));
    if (v2_) {
      write_or_throw(memory_dir_ + "/memory.max", memory_bytes);
      if (exists(memory_dir_ + "/memory.swap.max")) write_or_throw(memory_dir_ + "/memory.swap.max", "0");
      // An OOM ends the whole run, not one process chosen by the kernel.
      if (exists(memory_dir_ + "/memory.oom.group")) write_or_throw(memory_dir_ + "/memory.oom.group", "1");
    } else {
      write_or_throw(memory_dir_ + "/memory.limit_in_bytes", memory_bytes);
      // memory+swap capped at the same value: no swapping past the limit.
      const std::string memsw = memory_dir_ + "/memory.memsw.limit_in_bytes";
      if (exists(memsw)) write_or_throw(memsw, memory_bytes);
    }
  } catch (...) {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
}

RunCgroup::~RunCgroup() {
  using namespace std::chrono;
  const auto give_up = steady_clock::now() + seconds(5);
  while (!empty() && steady_clock::now() < give_up) {
    kill_all();
    std::this_thread::sleep_for(milliseconds(2));
  }
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    // The kernel may still be finishing the last exits: EBUSY for a moment.
    while (::rmdir(it->c_str()) != 0 && errno == EBUSY && steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(2));
    }
  }
}

bool RunCgroup::empty() const { return read_text(procs_files_.front()).empty(); }

void RunCgroup::kill_all() {
  if (v2_ && try_write(memory_dir_ + "/cgroup.kill", "1")) return;  // atomic, Linux 5.14+
  std::istringstream procs(read_text(pids_dir_ + "/cgroup.procs"));
  for (pid_t pid = 0; procs >> pid;) ::kill(pid, SIGKILL);
}

int64_t RunCgroup::oom_kills() const {
  const std::string file = v2_ ? memory_dir_ + "/memory.events" : memory_dir_ + "/memory.oom_control";
  return keyed_value(file, "oom_kill").value_or(0);
}

std::optional<int64_t> RunCgroup::cpu_usage_us() const {
  if (cpu_dir_.empty()) return std::nullopt;
  if (v2_) return keyed_value(cpu_dir_ + "/cpu.stat", "usage_usec");
  const std::string nanoseconds = read_text(cpu_dir_ + "/cpuacct.usage");
  if (nanoseconds.empty()) return std::nullopt;
  return std::stoll(nanoseconds) / 1000;
}

}  // namespace rbench::sandbox
