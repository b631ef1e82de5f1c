#include "sandbox/init/mount_tree.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "sandbox/init/init_util.h"

namespace rbench::sandbox::init {

namespace {

// Shown read-only at their host paths; symlinks among them (/bin -> usr/bin) are copied as symlinks.
constexpr const char* system_paths[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"};
constexpr const char* device_files[] = {"null", "zero", "random", "urandom"};
constexpr const char* old_root = "/oldroot";
constexpr const char* new_root = "/newroot";

void check(int rc, const std::string& what) {
  if (rc != 0) throw_system_error(what);
}

bool is_same_or_under(std::string_view path, std::string_view dir) {
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

// How a path under /oldroot or /newroot is called in messages: its path on the host or in the sandbox.
std::string shown(const std::string& path) {
  for (const char* prefix : {old_root, new_root}) {
    if (is_same_or_under(path, prefix)) return path.substr(std::string_view(prefix).size());
  }
  return path;
}

void make_directories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) throw_system_error("mkdir " + shown(prefix));
    if (slash == std::string::npos) return;
  }
}

// A directory, or an empty file, to mount `source` on.
void make_mount_point(const std::string& source, const std::string& target) {
  struct stat info {};
  check(::stat(source.c_str(), &info), "stat " + shown(source));
  if (S_ISDIR(info.st_mode)) return make_directories(target);
  make_directories(target.substr(0, target.rfind('/')));
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error("create mount point " + shown(target));
  ::close(fd);
}

// The flags the kernel keeps locked on a bind made inside a user namespace: a remount must repeat them.
unsigned long locked_flags(const std::string& target) {
  struct statvfs info {};
  check(::statvfs(target.c_str(), &info), "statvfs " + shown(target));
  unsigned long flags = 0;
  const std::pair<unsigned long, unsigned long> pairs[] = {
      {ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
      {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}};
  for (const auto& [statvfs_flag, mount_flag] : pairs) {
    if (info.f_flag & statvfs_flag) flags |= mount_flag;
  }
  return flags;
}

// Adds mount attributes (read-only, nosuid, ...) to `target` and, with `recursive`, every mount under
// it, so a host submount (/etc/hosts in a container) cannot stay writable.
void restrict_mount(const std::string& target, uint64_t attributes, bool recursive) {
  struct mount_attr attr {};
  attr.attr_set = attributes;
  if (::mount_setattr(AT_FDCWD, target.c_str(), recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) == 0) return;
  if (errno != ENOSYS) throw_system_error("mount_setattr " + shown(target));
  // Before Linux 5.12: remount the top mount only.
  unsigned long flags = MS_REMOUNT | MS_BIND | locked_flags(target);
  if (attributes & MOUNT_ATTR_RDONLY) flags |= MS_RDONLY;
  if (attributes & MOUNT_ATTR_NOSUID) flags |= MS_NOSUID;
  if (attributes & MOUNT_ATTR_NODEV) flags |= MS_NODEV;
  if (attributes & MOUNT_ATTR_NOEXEC) flags |= MS_NOEXEC;
  check(::mount(nullptr, target.c_str(), nullptr, flags, nullptr), "remount " + shown(target));
}

void bind(const std::string& source, const std::string& target, bool read_only) {
  make_mount_point(source, target);
  check(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr), "bind " + shown(source));
  restrict_mount(target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0), true);
}

void mount_tmpfs(const std::string& target, const std::string& options) {
  make_directories(target);
  check(::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()),
        "mount tmpfs " + shown(target));
}

// A tmpfs the program may write: owned by the sandbox user, whoever mounts it.
std::string writable_tmpfs_options(int64_t size_mb, const char* mode) {
  const std::string owner = std::to_string(protocol::sandbox_id);
  return "size=" + std::to_string(size_mb) + "m,nr_inodes=65536,mode=" + mode + ",uid=" + owner + ",gid=" + owner;
}

void show_system_path(const char* path) {
  const std::string source = std::string(old_root) + path;
  const std::string target = std::string(new_root) + path;
  struct stat info {};
  if (::lstat(source.c_str(), &info) != 0) return;  // /lib32 and friends exist on some systems only
  if (S_ISLNK(info.st_mode)) {
    char link[4096];
    const ssize_t size = ::readlink(source.c_str(), link, sizeof link - 1);
    if (size < 0) throw_system_error("readlink " + shown(source));
    check(::symlink(std::string(link, static_cast<size_t>(size)).c_str(), target.c_str()), "symlink " + shown(target));
    return;
  }
  bind(source, target, true);
}

// null, zero, random and urandom bound from the host (device nodes cannot be created in a user
// namespace), the usual /dev/fd links, and a private /dev/shm.
void build_dev(int64_t shm_mb) {
  const std::string dev = std::string(new_root) + "/dev";
  mount_tmpfs(dev, "size=64k,nr_inodes=64,mode=0755");
  for (const char* name : device_files) {
    const std::string target = dev + "/" + name;
    make_mount_point(std::string(old_root) + "/dev/" + name, target);
    check(::mount((std::string(old_root) + "/dev/" + name).c_str(), target.c_str(), nullptr, MS_BIND, nullptr),
          "bind /dev/" + std::string(name));
    restrict_mount(target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
  }
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"}};
  for (const auto& [to, name] : links) {
    check(::symlink(to, (dev + "/" + name).c_str()), "symlink /dev/" + std::string(name));
  }
  mount_tmpfs(dev + "/shm", writable_tmpfs_options(shm_mb, "1777"));
  restrict_mount(dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
}

// A /proc of the sandbox's own pid namespace (it must be mounted while the host's /proc is still
// reachable: the kernel refuses a new proc mount in a user namespace that sees no full one), with
// /proc/sys read-only.
void build_proc() {
  const std::string proc = std::string(new_root) + "/proc";
  make_directories(proc);
  check(::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount /proc");
  check(::mount((proc + "/sys").c_str(), (proc + "/sys").c_str(), nullptr, MS_BIND, nullptr), "bind /proc/sys");
  restrict_mount(proc + "/sys", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false);
}

bool shown_by_system_paths(const std::string& path) {
  return std::any_of(std::begin(system_paths), std::end(system_paths),
                     [&](const char* dir) { return is_same_or_under(path, dir); });
}

// The caller's paths, parents before children, bound from the descriptors opened earlier.
void show_caller_paths(const std::vector<CallerPath>& caller_paths) {
  for (const auto& caller_path : caller_paths) {
    const std::string source = std::string(old_root) + "/proc/self/fd/" + std::to_string(caller_path.fd);
    try {
      bind(source, new_root + caller_path.path, !caller_path.writable);
    } catch (const std::exception& e) {
      throw std::runtime_error((caller_path.writable ? "host_work_dir " : "read-only path ") + caller_path.path +
                               ": " + e.what());
    }
    ::close(caller_path.fd);
  }
}

// Detaches the host's root and makes /newroot the root (pivot_root(".", ".") then detach the old one).
void enter_new_root() {
  check(::umount2(old_root, MNT_DETACH), "detach the host root");
  check(::chdir(new_root), "chdir /newroot");
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root into the new root");
  check(::umount2(".", MNT_DETACH), "detach the staging root");
  check(::chdir("/"), "chdir /");
  restrict_mount("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
}

}  // namespace

std::vector<CallerPath> open_caller_paths(const protocol::InitConfig& config) {
  std::vector<std::pair<std::string, bool>> paths;  // path, writable
  for (const auto& path : config.read_only_paths) {
    if (!shown_by_system_paths(path)) paths.emplace_back(path, false);  // already visible read-only
  }
  if (!config.host_work_dir.empty()) paths.emplace_back(config.host_work_dir, true);
  std::sort(paths.begin(), paths.end());
  std::vector<CallerPath> opened;
  for (const auto& [path, writable] : paths) {
    if (is_same_or_under(path, "/proc") || is_same_or_under(path, "/dev") || path == "/" ||
        (writable && shown_by_system_paths(path))) {
      throw std::runtime_error("cannot show " + path + " in the sandbox: it would cover a directory the sandbox owns");
    }
    const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) throw_system_error((writable ? "host_work_dir " : "read-only path ") + path);
    opened.push_back({path, writable, fd});
  }
  return opened;
}

std::string build_mount_tree(const protocol::InitConfig& config, const std::vector<CallerPath>& caller_paths) {
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make mounts private");
  // bubblewrap's staging: a small tmpfs on /tmp becomes the root for a moment, so the host's root
  // (its /tmp included) stays reachable at /oldroot while /newroot is filled.
  check(::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=16384,mode=0755"),
        "mount the staging tmpfs");
  check(::chdir("/tmp"), "chdir /tmp");
  check(::mkdir("newroot", 0755), "mkdir newroot");
  check(::mkdir("oldroot", 0755), "mkdir oldroot");
  check(::mount("newroot", "newroot", nullptr, MS_BIND, nullptr), "bind newroot");
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", "oldroot")), "pivot_root into the staging tmpfs");
  check(::chdir("/"), "chdir /");

  for (const char* path : system_paths) show_system_path(path);
  const int64_t tmpfs_mb = config.limits.work_dir_mb;
  mount_tmpfs(std::string(new_root) + "/tmp", writable_tmpfs_options(tmpfs_mb, "1777"));
  build_dev(tmpfs_mb);
  build_proc();
  std::string work_dir = config.host_work_dir;
  if (work_dir.empty()) {
    work_dir = protocol::box_dir;
    mount_tmpfs(new_root + work_dir, writable_tmpfs_options(tmpfs_mb, "0755"));
  }
  show_caller_paths(caller_paths);
  enter_new_root();
  return work_dir;
}

}  // namespace rbench::sandbox::init
