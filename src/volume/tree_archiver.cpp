#include "volume/tree_archiver.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "volume/os_error.h"
#include "volume/unique_fd.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxDepth = 256;

Error read_error(const fs::path& path, int err) {
  return os_error(ErrorCode::kInternal, "cannot archive " + path.string(), err);
}

Error changed(const fs::path& path, const std::string& how) {
  return make_error(ErrorCode::kUnavailable, "cannot archive " + path.string() + ": it " + how +
                                                 " while the archive was made; try again once "
                                                 "nothing writes to the dataset");
}

// A directory being archived: the children not yet visited, in name order.
struct Frame {
  fs::path path;
  std::string name;  // in the archive; empty for the root
  std::vector<std::string> children;
  size_t next = 0;
};

// The regular file whose contents are being written.
struct OpenFile {
  UniqueFd fd;
  fs::path path;
  uint64_t left = 0;
};

// What an entry's header says, besides its name.
struct Header {
  unsigned type = AE_IFREG;
  const struct stat* st = nullptr;
  uint64_t size = 0;
  std::string symlink;
  std::string hardlink;
};

}  // namespace

struct TreeArchiver::State {
  using ArchivePtr = std::unique_ptr<struct archive, decltype(&archive_write_free)>;
  using EntryPtr = std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)>;

  explicit State(fs::path dir)
      : root(std::move(dir)),
        archive(archive_write_new(), archive_write_free),
        entry(archive_entry_new(), archive_entry_free),
        buffer(kPieceBytes) {}

  // Each call archives one entry or up to `room` bytes of a file's contents, or ends the
  // stream.
  Status step(size_t room);
  Status add(const fs::path& path, const std::string& name);
  Status add_directory(const fs::path& path, const std::string& name, const struct stat& st);
  Status add_file(const fs::path& path, const std::string& name, const struct stat& st);
  Status write_header(const fs::path& path, const std::string& name, const Header& h);
  Status copy_piece(size_t room);

  // Outside next() there is nobody to take bytes: freeing a stream left part way would pad the
  // current file with zeros up to its size, then write the end marker. Refusing the first write
  // makes libarchive give up at once (and still free what it holds, which archive_write_fail
  // would not).
  static la_ssize_t write_out(struct archive*, void* client, const void* bytes, size_t n) {
    auto* self = static_cast<State*>(client);
    if (!self->sink) return ARCHIVE_FATAL;
    self->sink->append(static_cast<const char*>(bytes), n);
    return static_cast<la_ssize_t>(n);
  }

  fs::path root;
  ArchivePtr archive;
  EntryPtr entry;
  std::string* sink = nullptr;  // where the stream goes during next()
  std::vector<Frame> frames;
  std::optional<OpenFile> file;
  std::map<std::pair<dev_t, ino_t>, std::string> first_names;  // of files with several
  std::vector<char> buffer;
  ArchiveStats stats;
  bool started = false;
  bool over = false;
};

Status TreeArchiver::State::step(size_t room) {
  if (!started) {
    started = true;
    return add(root, "");
  }
  if (file) return copy_piece(room);
  if (frames.empty()) {
    over = true;
    if (archive_write_close(archive.get()) != ARCHIVE_OK) {
      return make_error(ErrorCode::kInternal, "cannot end the archive of " + root.string() + ": " +
                                                  archive_error_string(archive.get()));
    }
    return {};
  }
  Frame& top = frames.back();
  if (top.next == top.children.size()) {
    frames.pop_back();
    return {};
  }
  const std::string child = top.children[top.next++];
  fs::path path = top.path / child;
  return add(path, top.name.empty() ? child : top.name + "/" + child);
}

Status TreeArchiver::State::add(const fs::path& path, const std::string& name) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return read_error(path, errno);
  if (S_ISDIR(st.st_mode)) return add_directory(path, name, st);
  if (S_ISREG(st.st_mode)) return add_file(path, name, st);
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return read_error(path, errno);
    target.resize(static_cast<size_t>(n));
    return write_header(path, name, Header{AE_IFLNK, &st, 0, target, ""});
  }
  if (S_ISFIFO(st.st_mode)) return write_header(path, name, Header{AE_IFIFO, &st, 0, "", ""});
  return {};  // Sockets and devices are runtime artefacts, not data.
}

Status TreeArchiver::State::add_directory(const fs::path& path, const std::string& name,
                                          const struct stat& st) {
  if (frames.size() >= kMaxDepth) {
    return make_error(ErrorCode::kInvalidArgument, "cannot archive " + path.string() +
                                                       ": directories nested deeper than " +
                                                       std::to_string(kMaxDepth) + " levels");
  }
  Frame frame{path, name, {}, 0};
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    frame.children.push_back(it->path().filename().string());
  }
  if (ec) {
    return make_error(ErrorCode::kInternal, "cannot list " + path.string() + ": " + ec.message());
  }
  std::sort(frame.children.begin(), frame.children.end());
  if (Status s =
          write_header(path, name.empty() ? "./" : name + "/", Header{AE_IFDIR, &st, 0, "", ""});
      !s) {
    return s;
  }
  frames.push_back(std::move(frame));
  return {};
}

Status TreeArchiver::State::add_file(const fs::path& path, const std::string& name,
                                     const struct stat& st) {
  if (st.st_nlink > 1) {
    auto [it, first] = first_names.try_emplace({st.st_dev, st.st_ino}, name);
    if (!first) return write_header(path, name, Header{AE_IFREG, &st, 0, "", it->second});
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return read_error(path, errno);
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) return read_error(path, errno);
  if (!S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
    return changed(path, "was replaced");
  }
  uint64_t size = static_cast<uint64_t>(opened.st_size);
  if (Status s = write_header(path, name, Header{AE_IFREG, &opened, size, "", ""}); !s) return s;
  stats.file_bytes += size;
  if (size > 0) file = OpenFile{std::move(fd), path, size};
  return {};
}

Status TreeArchiver::State::write_header(const fs::path& path, const std::string& name,
                                         const Header& h) {
  struct archive_entry* e = entry.get();
  archive_entry_clear(e);
  archive_entry_copy_pathname(e, name.c_str());
  archive_entry_set_filetype(e, h.type);
  archive_entry_set_perm(e, h.st->st_mode & 07777);
  archive_entry_set_uid(e, h.st->st_uid);
  archive_entry_set_gid(e, h.st->st_gid);
  archive_entry_set_mtime(e, h.st->st_mtim.tv_sec, h.st->st_mtim.tv_nsec);
  archive_entry_set_size(e, static_cast<la_int64_t>(h.size));
  if (!h.symlink.empty()) archive_entry_copy_symlink(e, h.symlink.c_str());
  if (!h.hardlink.empty()) archive_entry_copy_hardlink(e, h.hardlink.c_str());
  if (archive_write_header(archive.get(), e) != ARCHIVE_OK) {
    return make_error(ErrorCode::kInternal, "cannot archive " + path.string() + ": " +
                                                archive_error_string(archive.get()));
  }
  ++stats.entries;
  return {};
}

Status TreeArchiver::State::copy_piece(size_t room) {
  size_t want = static_cast<size_t>(std::min<uint64_t>(file->left, std::min(room, buffer.size())));
  ssize_t n = ::read(file->fd.get(), buffer.data(), want);
  if (n < 0 && errno == EINTR) return {};
  if (n < 0) return read_error(file->path, errno);
  if (n == 0) return changed(file->path, "shrank");
  la_ssize_t written = archive_write_data(archive.get(), buffer.data(), static_cast<size_t>(n));
  if (written != n) {
    return make_error(ErrorCode::kInternal, "cannot archive " + file->path.string() + ": " +
                                                archive_error_string(archive.get()));
  }
  file->left -= static_cast<uint64_t>(n);
  if (file->left == 0) file.reset();
  return {};
}

Result<std::unique_ptr<TreeArchiver>> TreeArchiver::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    return make_error(ErrorCode::kNotFound,
                      "cannot archive " + dir.string() + ": it is not a directory");
  }
  auto state = std::make_unique<State>(dir);
  struct archive* a = state->archive.get();
  // Names are bytes on Linux: BINARY keeps them as they are, where UTF-8 would need a locale
  // that can convert them.
  if (archive_write_set_format_pax(a) != ARCHIVE_OK ||
      archive_write_set_options(a, "hdrcharset=BINARY") != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
      archive_write_open(a, state.get(), nullptr, State::write_out, nullptr) != ARCHIVE_OK) {
    return make_error(ErrorCode::kInternal,
                      std::string("cannot start an archive: ") + archive_error_string(a));
  }
  return std::unique_ptr<TreeArchiver>(new TreeArchiver(std::move(state)));
}

TreeArchiver::TreeArchiver(std::unique_ptr<State> state) : state_(std::move(state)) {}

TreeArchiver::~TreeArchiver() = default;

Result<bool> TreeArchiver::next(std::string* out) {
  State& s = *state_;
  if (s.over) return false;
  s.sink = out;
  const size_t start = out->size();
  Status status;
  while (status && !s.over && out->size() - start < kPieceBytes) {
    status = s.step(kPieceBytes - (out->size() - start));
  }
  s.sink = nullptr;
  if (!status) {
    s.over = true;
    return status.error();
  }
  return !s.over;
}

const ArchiveStats& TreeArchiver::stats() const { return state_->stats; }

}  // namespace berth
