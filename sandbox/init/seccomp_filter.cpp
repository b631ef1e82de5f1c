#include "sandbox/init/seccomp_filter.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace rbench::sandbox::init {

namespace {

// Answered with EPERM. Grouped by why a program might try them.
constexpr const char* denied_syscalls[] = {
    // other processes' memory and control
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    // filesystem and namespace changes (possible for anyone inside a user namespace)
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    // kernel keyring, eBPF, perf, userfaultfd, io_uring: large attack surface, never needed to judge
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register",
    // the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup", "iopl", "ioperm",
};

// clone() flags that would create namespaces; clone3() passes its flags in memory that seccomp cannot
// read, so it answers ENOSYS and glibc falls back to clone().
constexpr unsigned long namespace_clone_flags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID, CLONE_NEWNET,
                                                   CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME};

// Address families with no use to a judged program and a long record of kernel bugs.
constexpr int denied_socket_families[] = {AF_NETLINK, AF_PACKET, AF_VSOCK, AF_KEY, AF_ALG, AF_BLUETOOTH};

// Terminal ioctls that inject input into (or take over) the controlling terminal.
constexpr unsigned long denied_ioctls[] = {TIOCSTI, TIOCLINUX};

struct FilterReleaser {
  void operator()(void* filter) const { seccomp_release(filter); }
};

void check(int rc, const std::string& what) {
  if (rc < 0) throw std::runtime_error("seccomp: " + what + ": " + std::strerror(-rc));
}

}  // namespace

void install_seccomp_filter() {
  // Syscalls of other ABIs (i386 int 0x80, x32) do not match the native architecture: the process dies.
  std::unique_ptr<void, FilterReleaser> filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) throw std::runtime_error("seccomp: seccomp_init failed");
  check(seccomp_attr_set(filter.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "bad-architecture action");
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : denied_syscalls) {
    const int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) continue;  // not a syscall of this architecture or libseccomp version
    check(seccomp_rule_add(filter.get(), deny, number, 0), name);
  }
  for (unsigned long flag : namespace_clone_flags) {
    check(seccomp_rule_add(filter.get(), deny, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "clone");
  }
  check(seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
  for (int family : denied_socket_families) {
    check(seccomp_rule_add(filter.get(), deny, SCMP_SYS(socket), 1,
                           SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
          "socket");
  }
  for (unsigned long request : denied_ioctls) {
    // The request is an int: compare the low 32 bits whatever the upper half of the register holds.
    check(seccomp_rule_add(filter.get(), deny, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request)),
          "ioctl");
  }
  check(seccomp_load(filter.get()), "load");
}

}  // namespace rbench::sandbox::init
