#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"

namespace berth::cmd {

bool write_private_file(const std::string& path, const std::string& text, bool replace) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (replace ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) return false;
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && ok;
}

}  // namespace berth::cmd
