// The sandbox against hostile programs, each test with its own: runaway CPU and sleep, ignored
// signals, fork and thread bombs, memory and output floods, network, writes and reads outside the work
// directory, secrets in the environment, killing the parent, daemons, huge files, descriptor
// exhaustion, forbidden system calls, other ABIs, inherited descriptors. After every test the host
// must be as before: no processes of the run, no cgroups, no temporary directories.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "sandbox/languages.h"
#include "sandbox/sandbox.h"
#include "support/test_support.h"

namespace rbench::sandbox {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr const char* python = "/usr/bin/python3";

Limits small_limits() {
  Limits limits;
  limits.cpu_seconds = 1;
  limits.wall_seconds = 2;
  limits.memory_mb = 128;
  limits.max_processes = 32;
  limits.file_size_bytes = 1 << 20;
  limits.open_files = 64;
  limits.output_bytes = 1 << 20;
  limits.work_dir_mb = 64;
  return limits;
}

// A marker on the program's command line, to find its processes on the host afterwards.
std::string unique_marker() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("rbench-sandbox-test-") + std::to_string(::getpid()) + "-" + test->name();
}

RunSpec python_spec(const std::string& code, const std::vector<std::string>& args = {}) {
  RunSpec spec;
  spec.argv = {python, "main.py", unique_marker()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.files = {{"main.py", code, false}};
  spec.limits = small_limits();
  return spec;
}

std::string describe(const Result& result) {
  return std::string("status ") + status_name(result.status) + ", exit " + std::to_string(result.exit_code) +
         ", signal " + std::to_string(result.signal) + ", wall " + std::to_string(result.wall_ms) + " ms, cpu " +
         std::to_string(result.cpu_ms) + " ms, message '" + result.message + "'\nstdout: " +
         result.stdout_data.substr(0, 2000) + "\nstderr: " + result.stderr_data.substr(0, 2000);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Host pids whose command line mentions `marker`.
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = testing::read_file(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (contains(cmdline, marker)) found.push_back(std::stoi(name));
  }
  return found;
}

// cgroup directories this test process created (rbench-<pid>-<n>) anywhere under /sys/fs/cgroup.
std::vector<std::string> leftover_cgroups() {
  std::vector<std::string> found;
  const std::string prefix = "rbench-" + std::to_string(::getpid()) + "-";
  std::error_code error;
  for (fs::recursive_directory_iterator it("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, error), end;
       it != end; it.increment(error)) {
    if (error) break;
    if (it.depth() > 4) it.disable_recursion_pending();
    if (it->is_directory(error) && it->path().filename().string().rfind(prefix, 0) == 0) {
      found.push_back(it->path());
    }
  }
  return found;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Capability capability = probe();
    if (!capability.available) GTEST_SKIP() << "isolation is unavailable on this machine: " << capability.reason;
  }

  // The host is as it was: nothing of the run is alive, no cgroup and no work directory remains.
  void TearDown() override {
    if (IsSkipped()) return;
    EXPECT_TRUE(processes_with(unique_marker()).empty()) << "a process of the run outlived it";
    EXPECT_TRUE(leftover_cgroups().empty()) << "a run's cgroup was not removed";
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child of the test process was left behind";
    const std::string ours = "rbench-unsandboxed-" + std::to_string(::getpid()) + "-";
    for (const auto& entry : fs::directory_iterator("/tmp")) {
      EXPECT_NE(entry.path().filename().string().rfind(ours, 0), 0u) << entry.path();
    }
  }
};

TEST_F(SandboxTest, RunsPythonWithStdoutStderrAndExitCode) {
  const Result result = run(python_spec(R"py(
import sys
print("to stdout")
print("to stderr", file=sys.stderr)
sys.exit(3)
)py"));
  EXPECT_EQ(result.status, Status::runtime_error) << describe(result);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.stdout_data, "to stdout\n");
  EXPECT_EQ(result.stderr_data, "to stderr\n");
  EXPECT_GT(result.max_rss_kb, 1000);
}

TEST_F(SandboxTest, DeliversStdin) {
  RunSpec spec = python_spec("import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n");
  spec.stdin_data = "1 2 3\n4\n";
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_EQ(result.stdout_data, "10\n");
}

TEST_F(SandboxTest, CompilesAndRunsCpp) {
  const ProgramRun program = run_source(Language::cpp, R"cpp(
#include <iostream>
#include <vector>
int main() {
  long n, total = 0;
  std::vector<long> values;
  while (std::cin >> n) values.push_back(n);
  for (long v : values) total += v * v;
  std::cout << total << "\n";
}
)cpp",
                                        "1 2 3", small_limits());
  EXPECT_FALSE(program.compile_error) << describe(program.result);
  EXPECT_EQ(program.result.status, Status::ok) << describe(program.result);
  EXPECT_EQ(program.result.stdout_data, "14\n");
}

TEST_F(SandboxTest, ReportsCompileErrors) {
  const ProgramRun program = run_source(Language::cpp, "int main() { return undeclared; }\n", "", small_limits());
  EXPECT_TRUE(program.compile_error);
  EXPECT_NE(program.result.status, Status::ok);
  EXPECT_TRUE(contains(program.result.stderr_data, "undeclared")) << describe(program.result);
}

TEST_F(SandboxTest, RunsPythonSourceWithExtraFiles) {
  const ProgramRun program = run_source(Language::python, "import helper\nprint(helper.answer())\n", "",
                                        small_limits(), {{"helper.py", "def answer():\n    return 42\n", false}});
  EXPECT_EQ(program.result.status, Status::ok) << describe(program.result);
  EXPECT_EQ(program.result.stdout_data, "42\n");
}

TEST_F(SandboxTest, InfiniteLoopTimesOut) {
  RunSpec spec = python_spec("while True:\n    pass\n");
  spec.limits.wall_seconds = 10;  // the CPU limit ends it, even on a busy machine
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::timeout) << describe(result);
  EXPECT_TRUE(contains(result.message, "cpu time")) << result.message;
  // RLIMIT_CPU's clock and the reported usage differ by some percent on a busy virtual machine.
  EXPECT_GE(result.cpu_ms, 700);
  EXPECT_LT(result.wall_ms, 10000);
}

TEST_F(SandboxTest, SleepPastTheWallLimitTimesOut) {
  const Result result = run(python_spec("import time\ntime.sleep(60)\n"));
  EXPECT_EQ(result.status, Status::timeout) << describe(result);
  EXPECT_TRUE(contains(result.message, "wall time")) << result.message;
  EXPECT_GE(result.wall_ms, 2000);
  EXPECT_LT(result.wall_ms, 3500);
}

TEST_F(SandboxTest, ProgramIgnoringSignalsIsKilled) {
  // Ignores every catchable signal, SIGXCPU included, and forks a child that does the same.
  const Result result = run(python_spec(R"py(
import os, signal, time
for s in range(1, signal.NSIG):
    try:
        signal.signal(s, signal.SIG_IGN)
    except (OSError, ValueError):
        pass
os.fork()
while True:
    time.sleep(0.01)
)py"));
  EXPECT_EQ(result.status, Status::timeout) << describe(result);
  EXPECT_LT(result.wall_ms, 3500);
}

TEST_F(SandboxTest, CpuBoundProgramIgnoringSigxcpuIsKilled) {
  RunSpec spec = python_spec(R"py(
import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
while True:
    pass
)py");
  spec.limits.wall_seconds = 10;  // the CPU limit must end it, not the wall clock
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::timeout) << describe(result);
  EXPECT_TRUE(contains(result.message, "cpu time")) << result.message;
  EXPECT_LT(result.wall_ms, 10000);
}

TEST_F(SandboxTest, ForkBombIsContained) {
  const Result result = run(python_spec(R"py(
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)py"));
  EXPECT_NE(result.status, Status::ok) << describe(result);
  EXPECT_LT(result.wall_ms, 3500);
  EXPECT_EQ(std::system("/bin/true"), 0) << "the host can still start processes";
}

TEST_F(SandboxTest, ThreadBombIsContained) {
  const Result result = run(python_spec(R"py(
import threading, time
started = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        started += 1
except RuntimeError as error:
    print("stopped after", started, "threads:", error)
)py"));
  EXPECT_TRUE(result.status == Status::ok || result.status == Status::runtime_error) << describe(result);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.stdout_data, match, std::regex("stopped after (\\d+) threads")))
      << describe(result);
  EXPECT_LT(std::stoi(match[1]), small_limits().max_processes);
}

TEST_F(SandboxTest, MemoryBombHitsTheMemoryLimit) {
  const Result result = run(python_spec(R"py(
chunks = []
while True:
    chunks.append(b"x" * (8 << 20))
)py"));
  if (probe().cgroups) {
    EXPECT_EQ(result.status, Status::memory_limit) << describe(result);
  } else {  // RLIMIT_AS only: the allocation fails inside the program
    EXPECT_EQ(result.status, Status::runtime_error) << describe(result);
    EXPECT_TRUE(contains(result.stderr_data, "MemoryError")) << describe(result);
  }
}

TEST_F(SandboxTest, GiantOutputIsCutAtTheCapWithBoundedMemory) {
  struct rusage before {};
  ::getrusage(RUSAGE_SELF, &before);
  RunSpec spec = python_spec(R"py(
import sys
block = "x" * 65536
while True:
    sys.stdout.write(block)
)py");
  spec.limits.output_bytes = 256 << 10;
  spec.limits.wall_seconds = 10;
  const Result result = run(spec);
  struct rusage after {};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(result.status, Status::output_limit) << describe(result);
  EXPECT_TRUE(result.stdout_truncated);
  EXPECT_EQ(result.stdout_data.size(), size_t{256} << 10);
  EXPECT_LT(result.wall_ms, 2000) << "killed as soon as it went over, not at a time limit";
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 << 10) << "the supervisor's memory grew by kB";
}

TEST_F(SandboxTest, StderrFloodIsCutToo) {
  RunSpec spec = python_spec("import os\nwhile True:\n    os.write(2, b'e' * 4096)\n");
  spec.limits.output_bytes = 10000;
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::output_limit) << describe(result);
  EXPECT_TRUE(result.stderr_truncated);
  EXPECT_EQ(result.stderr_data.size(), 10000u);
}

// A listening socket on the host's loopback: the sandbox must not reach it.
class HostListener {
 public:
  HostListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  ~HostListener() { ::close(fd_); }
  int port() const { return port_; }
  bool was_contacted() const {
    const int client = ::accept(fd_, nullptr, nullptr);
    if (client >= 0) ::close(client);
    return client >= 0;
  }

 private:
  int fd_;
  int port_ = 0;
};

TEST_F(SandboxTest, CannotReachTheHostsLoopback) {
  HostListener listener;
  const Result result = run(python_spec(R"py(
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=1)
    print("connected")
except OSError as error:
    print("refused:", error)
)py",
                                        {std::to_string(listener.port())}));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "refused:")) << describe(result);
  EXPECT_FALSE(listener.was_contacted());
}

TEST_F(SandboxTest, CannotReachOutsideAddressesOrResolveNames) {
  const Result result = run(python_spec(R"py(
import socket
for target in [("1.1.1.1", 80), ("8.8.8.8", 53)]:
    try:
        socket.create_connection(target, timeout=1)
        print("connected", target)
    except OSError as error:
        print("unreachable:", error)
try:
    socket.getaddrinfo("example.com", 443)
    print("resolved")
except OSError as error:
    print("no dns:", error)
)py"));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_FALSE(contains(result.stdout_data, "connected")) << describe(result);
  EXPECT_FALSE(contains(result.stdout_data, "resolved")) << describe(result);
}

TEST_F(SandboxTest, WritesOutsideTheWorkDirectoryFail) {
  const std::string repo_file = (testing::source_dir() / "sandbox-escape-marker").string();
  const Result result = run(python_spec(R"py(
import os, sys
outside = ["/etc/escaped", "/usr/escaped", "/root/escaped", "/escaped", "/proc/sys/kernel/hostname",
           "/dev/escaped", sys.argv[2]]
for path in outside:
    try:
        with open(path, "w") as f:
            f.write("x")
        print("WROTE", path)
    except OSError as error:
        print("denied", path, error.strerror)
for path in ["inside.txt", "/tmp/inside.txt", "/dev/shm/inside"]:
    with open(path, "w") as f:
        f.write("fine")
print("inside ok")
)py",
                                        {repo_file}));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_FALSE(contains(result.stdout_data, "WROTE")) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "inside ok")) << describe(result);
  EXPECT_FALSE(fs::exists(repo_file));
  EXPECT_FALSE(fs::exists("/escaped"));
}

TEST_F(SandboxTest, HostFilesAndSecretsAreInvisible) {
  testing::ScopedEnvironment environment;
  environment.set("RBENCH_TEST_SECRET", "hunter2-secret-value");
  const Result result = run(python_spec(R"py(
import glob, os, sys
print("env", "RBENCH_TEST_SECRET" in os.environ, sorted(os.environ))
leaks = []
for path in glob.glob("/proc/*/environ"):
    try:
        if b"hunter2-secret-value" in open(path, "rb").read():
            leaks.append(path)
    except OSError:
        pass
print("leaks", leaks)
for path in ["/root", "/work", "/home", sys.argv[2], "/run", "/var"]:
    print("visible" if os.path.exists(path) else "hidden", path)
)py",
                                        {testing::source_dir().string()}));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "env False ['HOME', 'LANG', 'PATH']")) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "leaks []")) << describe(result);
  EXPECT_FALSE(contains(result.stdout_data, "visible")) << describe(result);
}

TEST_F(SandboxTest, KillingTheParentOrTheHostFails) {
  const Result result = run(python_spec(R"py(
import os, signal, sys
for pid in [os.getppid(), 1, int(sys.argv[2])]:
    try:
        os.kill(pid, signal.SIGKILL)
        print("sent", pid)
    except OSError as error:
        print("refused", pid, error.strerror)
try:
    os.kill(-1, signal.SIGKILL)  # every process it may signal: none but itself and pid 1, both exempt
except OSError as error:
    print("kill -1:", error.strerror)
print("still here, parent", os.getppid())
)py",
                                        {std::to_string(::getpid())}));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "still here, parent 1")) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "refused " + std::to_string(::getpid()))) << describe(result);
}

TEST_F(SandboxTest, DaemonOutlivingTheProgramIsGone) {
  // Double fork + setsid, the daemon keeps stdout open and renames itself after the marker.
  const Result result = run(python_spec(R"py(
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", [sys.argv[1] + "-daemon", "60"])
    os._exit(0)
os.wait()
print("parent done")
)py"));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_EQ(result.stdout_data, "parent done\n");
  EXPECT_LT(result.wall_ms, 1500) << "the run ends with its program, not with the daemon holding stdout";
}

TEST_F(SandboxTest, HugeFileHitsTheFileSizeLimit) {
  RunSpec spec;
  spec.argv = {"/bin/sh", "-c", "exec head -c 10000000 /dev/zero > big", unique_marker()};
  spec.limits = small_limits();
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::runtime_error) << describe(result);
  EXPECT_EQ(result.signal, SIGXFSZ);
  EXPECT_TRUE(contains(result.message, "file size limit")) << describe(result);

  // Python ignores SIGXFSZ: its write fails with EFBIG instead.
  const Result python_result = run(python_spec("open('big', 'wb').write(b'x' * 10_000_000)\n"));
  EXPECT_EQ(python_result.status, Status::runtime_error) << describe(python_result);
  EXPECT_TRUE(contains(python_result.stderr_data, "File too large")) << describe(python_result);
}

TEST_F(SandboxTest, WorkDirectorySizeIsBounded) {
  RunSpec spec = python_spec(R"py(
import os
written = 0
try:
    for i in range(1000):
        with open(f"chunk{i}", "wb") as f:
            f.write(b"x" * (512 << 10))
        written += 1
except OSError as error:
    print("stopped:", error.strerror, written)
)py");
  spec.limits.work_dir_mb = 4;
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "stopped: No space left on device")) << describe(result);
}

TEST_F(SandboxTest, DescriptorExhaustionIsContained) {
  const Result result = run(python_spec(R"py(
files = []
try:
    while True:
        files.append(open("/dev/null"))
except OSError as error:
    print("stopped at", len(files), error.strerror)
)py"));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "Too many open files")) << describe(result);
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << "the host can still open files";
  ::close(fd);
}

TEST_F(SandboxTest, SeccompDeniesPtraceNamespacesMountsAndMore) {
  const Result result = run(python_spec(R"py(
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, call):
    ctypes.set_errno(0)
    rc = call()
    print(name, rc, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
attempt("ptrace", lambda: libc.ptrace(0, 0, 0, 0))
attempt("unshare", lambda: libc.unshare(0x10000000))
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("clone3", lambda: libc.syscall(435, 0, 0))
attempt("keyctl", lambda: libc.syscall(250, 0, 0))
attempt("bpf", lambda: libc.syscall(321, 0, 0, 0))
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    print("netlink opened")
except OSError as error:
    print("netlink", errno.errorcode[error.errno])
)py"));
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  for (const char* line : {"ptrace -1 EPERM", "unshare -1 EPERM", "mount -1 EPERM", "clone3 -1 ENOSYS",
                           "keyctl -1 EPERM", "bpf -1 EPERM", "netlink EPERM"}) {
    EXPECT_TRUE(contains(result.stdout_data, line)) << line << "\n" << describe(result);
  }
}

TEST_F(SandboxTest, OtherSyscallAbisKillTheProgram) {
  // x32 (the syscall-number bit) and i386 (int 0x80): both must end the process, never run.
  const char* x32_getpid =
      R"(asm volatile("syscall" : "=a"(result) : "a"(0x40000000L | 39) : "rcx", "r11", "memory");)";
  const char* i386_getpid = R"(asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");)";
  for (const char* call : {x32_getpid, i386_getpid}) {
    const ProgramRun program = run_source(Language::cpp,
                                          std::string("#include <cstdio>\nint main() { long result; ") + call +
                                              " std::printf(\"ran %ld\\n\", result); }\n",
                                          "", small_limits());
    ASSERT_FALSE(program.compile_error) << describe(program.result);
    EXPECT_EQ(program.result.status, Status::killed) << describe(program.result);
    EXPECT_FALSE(contains(program.result.stdout_data, "ran")) << describe(program.result);
    // seccomp kills with SIGSYS; a kernel with i386 emulation off at boot (ia32_emulation=0) refuses
    // int 0x80 itself with SIGSEGV before any filter runs. Either way the call never runs.
    const bool refused_by_kernel = call == i386_getpid && program.result.signal == SIGSEGV;
    EXPECT_TRUE(program.result.signal == SIGSYS || refused_by_kernel) << describe(program.result);
  }
}

TEST_F(SandboxTest, NoDescriptorIsInherited) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(leaked, 3);
  const Result result = run(python_spec(R"py(
import os, sys
print(sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
try:
    os.fstat(int(sys.argv[2]))
    print("inherited")
except OSError:
    print("not inherited")
)py",
                                        {std::to_string(leaked)}));
  ::close(leaked);
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "[0, 1, 2, 3]")) << describe(result);  // 3: listdir's own
  EXPECT_TRUE(contains(result.stdout_data, "not inherited")) << describe(result);
}

TEST_F(SandboxTest, ReadOnlyPathsAreVisibleAndReadOnly) {
  TempDir dir;
  testing::write_file(dir / "data.txt", "shared data");
  RunSpec spec = python_spec(R"py(
import sys
print(open(sys.argv[2] + "/data.txt").read())
try:
    open(sys.argv[2] + "/new.txt", "w")
    print("WROTE")
except OSError as error:
    print("read-only:", error.strerror)
)py",
                             {dir.path().string()});
  spec.read_only_paths = {dir.path().string()};
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "shared data")) << describe(result);
  EXPECT_TRUE(contains(result.stdout_data, "read-only: Read-only file system")) << describe(result);
}

TEST_F(SandboxTest, HostWorkDirectoryIsWritableAndKeepsResults) {
  TempDir dir;
  testing::write_file(dir / "input.txt", "from the host");
  RunSpec spec = python_spec(R"py(
import os
print(os.getcwd() == os.environ["HOME"], open("input.txt").read())
open("output.txt", "w").write("from the sandbox")
)py");
  spec.host_work_dir = dir.path().string();
  const Result result = run(spec);
  EXPECT_EQ(result.status, Status::ok) << describe(result);
  EXPECT_EQ(result.stdout_data, "True from the host\n");
  EXPECT_EQ(testing::read_file(dir / "output.txt"), "from the sandbox");
  EXPECT_TRUE(fs::exists(dir / "main.py")) << "input files land in the host directory";
}

TEST_F(SandboxTest, BadSpecsAreSetupErrorsNamingTheField) {
  RunSpec empty;
  EXPECT_EQ(run(empty).status, Status::setup_error);
  RunSpec escaping = python_spec("print(1)\n");
  escaping.files.push_back({"../outside.py", "x", false});
  Result result = run(escaping);
  EXPECT_EQ(result.status, Status::setup_error);
  EXPECT_TRUE(contains(result.message, "../outside.py")) << result.message;
  RunSpec missing = python_spec("print(1)\n");
  missing.read_only_paths = {"/no/such/dir"};
  result = run(missing);
  EXPECT_EQ(result.status, Status::setup_error);
  EXPECT_TRUE(contains(result.message, "/no/such/dir")) << result.message;
  RunSpec limits = python_spec("print(1)\n");
  limits.limits.cpu_seconds = 0;
  result = run(limits);
  EXPECT_EQ(result.status, Status::setup_error);
  EXPECT_TRUE(contains(result.message, "cpu_seconds")) << result.message;
  RunSpec unknown = python_spec("");
  unknown.argv = {"no-such-program"};
  result = run(unknown);
  EXPECT_EQ(result.status, Status::setup_error);
  EXPECT_TRUE(contains(result.message, "no-such-program")) << result.message;
}

TEST_F(SandboxTest, ParallelRunsStayApart) {
  std::vector<std::future<Result>> runs;
  for (int i = 0; i < 8; ++i) {
    runs.push_back(std::async(std::launch::async, [i] {
      RunSpec spec = python_spec("import sys\nprint(int(sys.stdin.read()) * 2)\n");
      spec.stdin_data = std::to_string(i);
      return run(spec);
    }));
  }
  for (int i = 0; i < 8; ++i) {
    const Result result = runs[i].get();
    EXPECT_EQ(result.status, Status::ok) << describe(result);
    EXPECT_EQ(result.stdout_data, std::to_string(2 * i) + "\n");
  }
}

TEST_F(SandboxTest, UnsafeModeRunsWithoutIsolationOnlyWhenAskedFor) {
  set_unsafe_no_sandbox(true);
  const Result result = run(python_spec(R"py(
import os, sys
print(os.path.exists(sys.argv[2]), flush=True)
while True:
    pass
)py",
                                        {testing::source_dir().string()}));
  set_unsafe_no_sandbox(false);
  EXPECT_EQ(result.status, Status::timeout) << describe(result);  // the limits still hold
  EXPECT_EQ(result.stdout_data, "True\n") << "the host's files are visible: no isolation";
  EXPECT_TRUE(contains(result.message, "WITHOUT isolation")) << result.message;
  const Result isolated = run(python_spec("import os\nprint(os.path.exists('/work'))\n"));
  EXPECT_EQ(isolated.stdout_data, "False\n") << describe(isolated);
}

TEST(SandboxProbe, SaysWhatThisMachineOffers) {
  const Capability capability = probe();
  if (capability.available) {
    EXPECT_TRUE(capability.cgroups ? !capability.cgroup_version.empty() : !capability.reason.empty());
  } else {
    EXPECT_FALSE(capability.reason.empty());
  }
}

TEST(SandboxLanguages, ParsesNamesAndRejectsUnknownOnes) {
  EXPECT_EQ(parse_language("python3"), Language::python);
  EXPECT_EQ(parse_language("c++"), Language::cpp);
  EXPECT_STREQ(language_name(Language::cpp), "cpp");
  EXPECT_THROW(parse_language("rust"), UserError);
}

}  // namespace
}  // namespace rbench::sandbox
