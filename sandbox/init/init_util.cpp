#include "sandbox/init/init_util.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sandbox/protocol.h"

namespace rbench::sandbox::init {

void throw_system_error(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void write_existing_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_system_error("open " + path);
  const ssize_t written = ::write(fd, content.data(), content.size());
  const int write_errno = errno;
  ::close(fd);
  errno = write_errno;
  if (written != static_cast<ssize_t>(content.size())) throw_system_error("write " + path);
}

void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) ::signal(signal_number, SIG_DFL);
}

void report(std::string_view kind, std::string_view text) {
  const std::string line = protocol::report_line(kind, text);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(protocol::report_fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace rbench::sandbox::init
