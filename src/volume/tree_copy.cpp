#include "volume/tree_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "volume/os_error.h"
#include "volume/unique_fd.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 256;

Error copy_error(const fs::path& path, int err) {
  return os_error(ErrorCode::kInternal, "cannot copy " + path.string(), err);
}

// Ownership is best effort: only root may give files away, and a copy made by an unprivileged
// agent is still a faithful copy of the data.
void keep_owner(const fs::path& to, const struct stat& st) {
  if (::geteuid() == 0) (void)::lchown(to.c_str(), st.st_uid, st.st_gid);
}

void keep_times(const fs::path& to, const struct stat& st) {
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  (void)::utimensat(AT_FDCWD, to.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

Status copy_bytes(int in, int out, const fs::path& from) {
  bool use_copy_file_range = true;
  char buf[1 << 16];
  for (;;) {
    ssize_t n;
    if (use_copy_file_range) {
      n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        use_copy_file_range = false;  // Another filesystem, or an old kernel: plain copy.
        continue;
      }
    } else {
      n = ::read(in, buf, sizeof buf);
      for (ssize_t done = 0; n > 0 && done < n;) {
        ssize_t w = ::write(out, buf + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return copy_error(from, errno);
        done += w;
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return copy_error(from, errno);
    if (n == 0) return {};
  }
}

Status copy_regular_file(const fs::path& from, const fs::path& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return copy_error(from, errno);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return copy_error(to, errno);
  return copy_bytes(in.get(), out.get(), from);
}

Status copy_entry(const fs::path& from, const fs::path& to, int depth) {
  if (depth > kMaxDepth) {
    return make_error(ErrorCode::kInvalidArgument, "cannot copy " + from.string() +
                                                       ": directories nested deeper than " +
                                                       std::to_string(kMaxDepth) + " levels");
  }
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0) return copy_error(from, errno);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(to.c_str(), 0700) != 0) return copy_error(to, errno);
    std::error_code ec;
    std::vector<fs::path> children;
    for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
      children.push_back(it->path().filename());
    }
    if (ec)
      return make_error(ErrorCode::kInternal, "cannot list " + from.string() + ": " + ec.message());
    for (const fs::path& child : children) {
      if (Status s = copy_entry(from / child, to / child, depth + 1); !s) return s;
    }
  } else if (S_ISREG(st.st_mode)) {
    if (Status s = copy_regular_file(from, to); !s) return s;
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(from.c_str(), target.data(), target.size());
    if (n < 0) return copy_error(from, errno);
    target.resize(static_cast<size_t>(n));
    if (::symlink(target.c_str(), to.c_str()) != 0) return copy_error(to, errno);
  } else if (S_ISFIFO(st.st_mode)) {
    if (::mkfifo(to.c_str(), st.st_mode & 07777) != 0) return copy_error(to, errno);
  } else {
    return {};  // Sockets and devices.
  }
  // Owner before mode, because chown clears the set-user-id and set-group-id bits; mode after
  // the contents, so that a read-only directory could still be filled.
  keep_owner(to, st);
  if (!S_ISLNK(st.st_mode) && ::chmod(to.c_str(), st.st_mode & 07777) != 0) {
    return copy_error(to, errno);
  }
  keep_times(to, st);
  return {};
}

}  // namespace

Status copy_tree(const fs::path& from, const fs::path& to) { return copy_entry(from, to, 0); }

Status remove_tree(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, "cannot remove " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace berth
