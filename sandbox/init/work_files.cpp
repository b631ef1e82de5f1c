#include "sandbox/init/work_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/init/init_util.h"

namespace rbench::sandbox::init {

namespace {

void make_parent_directories(const std::string& work_dir, const std::string& relative) {
  for (size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1)) {
    const std::string dir = work_dir + "/" + relative.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw_system_error("mkdir " + dir);
  }
}

void write_whole(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error("write " + path);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void write_input_files(const std::string& work_dir, const std::vector<InputFile>& files) {
  for (const auto& file : files) {
    make_parent_directories(work_dir, file.path);
    const std::string path = work_dir + "/" + file.path;
    const mode_t mode = file.executable ? 0755 : 0644;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) throw_system_error("create " + path);
    try {
      write_whole(fd, file.content, path);
      if (::fchmod(fd, mode) != 0) throw_system_error("chmod " + path);  // whatever the umask was
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }
}

}  // namespace rbench::sandbox::init
