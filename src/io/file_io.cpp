#include "io/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "predictor/Error.h"

namespace predictor {

int open_regular_file(const std::string& path, std::size_t max_bytes, std::size_t* size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer that never comes.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file (a FIFO, device or directory is not read: it could block or never end)");
  }
  *size = static_cast<std::size_t>(info.st_size);
  if (*size > max_bytes) {
    ::close(fd);
    throw Error(path + ": " + std::to_string(*size) + " bytes, more than the " + std::to_string(max_bytes) +
                " bytes such a file may have");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

void check_regular_file(const std::string& path) {
  std::size_t size = 0;
  ::close(open_regular_file(path, std::numeric_limits<std::size_t>::max(), &size));
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  std::size_t size = 0;
  const int fd = open_regular_file(path, max_bytes, &size);
  std::string bytes(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, bytes.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const int error = errno;
      ::close(fd);
      throw Error(path + ": read error" + (got < 0 ? std::string(": ") + std::strerror(error) : " (file shrank)"));
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return bytes;
}

}  // namespace predictor
