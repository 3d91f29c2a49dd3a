#include "volume/tree_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "volume/os_error.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNameBytes = 4096;

Error malformed(int64_t offset, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument,
                    "malformed archive at byte " + std::to_string(offset) + ": " + what);
}

bool all_zero(std::string_view bytes) {
  return bytes.find_first_not_of('\0') == std::string_view::npos;
}

// The entry's name as a relative path inside the tree ("" for the root), or an error when it
// could leave the tree.
Result<std::string> clean_name(const std::string& raw, int64_t offset) {
  if (raw.empty()) return malformed(offset, "an entry has no name");
  if (raw.size() > kMaxNameBytes) {
    return malformed(offset, "a name is longer than " + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (raw[0] == '/') return malformed(offset, "absolute name '" + raw + "'");
  std::string name = raw;
  while (!name.empty() && name.back() == '/') name.pop_back();  // a directory's slash
  if (name == ".") return std::string();
  if (name.rfind("./", 0) == 0) name.erase(0, 2);
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    std::string_view part(name.data() + start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return malformed(offset, "name '" + raw + "' must be a plain relative path");
    }
    start = slash + 1;
  }
  return name;
}

std::string parent_of(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? "" : name.substr(0, slash);
}

// Gives the owner every permission on each directory of the tree under `root`, so that a
// failed extraction (whose directory modes libarchive applies when it is freed) can be removed
// without privileges. Iterative: a hostile stream may nest thousands of directories.
void make_writable(const fs::path& root) {
  if (::geteuid() == 0) return;
  std::vector<fs::path> todo{root};
  while (!todo.empty()) {
    fs::path dir = std::move(todo.back());
    todo.pop_back();
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if ((st.st_mode & S_IRWXU) != S_IRWXU) (void)::chmod(dir.c_str(), st.st_mode | S_IRWXU);
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      todo.push_back(it->path());
    }
  }
}

// The root entry's mode, owner and time, applied to the target itself at the end.
struct RootMeta {
  mode_t mode = 0700;
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec mtime {};
};

class Extractor {
 public:
  Extractor(ArchiveSource& source, fs::path root)
      : source_(source),
        root_(std::move(root)),
        as_root_(::geteuid() == 0),
        reader_(archive_read_new(), archive_read_free),
        disk_(archive_write_disk_new(), archive_write_free) {
    dirs_.insert("");
  }

  Result<ArchiveStats> run();

 private:
  using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

  static la_ssize_t read_in(struct archive* a, void* client, const void** buffer);
  Status open();
  Status entry(struct archive_entry* e);
  Status check_name(struct archive_entry* e, const std::string& raw, const std::string& name);
  Status write_entry(struct archive_entry* e, const std::string& raw, const std::string& name);
  Status check_end();
  Status apply_root_meta();
  Error read_failure();
  int64_t position() { return archive_filter_bytes(reader_.get(), -1); }

  ArchiveSource& source_;
  const fs::path root_;
  const bool as_root_;
  ArchivePtr reader_;
  ArchivePtr disk_;
  std::optional<Error> source_error_;
  bool source_ended_ = false;
  std::string_view last_piece_;  // the source's latest bytes, still valid
  int64_t delivered_ = 0;        // bytes handed to libarchive
  std::set<std::string> dirs_;   // directory entries so far ("" is the root)
  std::optional<RootMeta> root_meta_;
  ArchiveStats stats_;
};

la_ssize_t Extractor::read_in(struct archive* a, void* client, const void** buffer) {
  auto* self = static_cast<Extractor*>(client);
  *buffer = nullptr;
  if (self->source_ended_) return 0;
  Result<std::string_view> piece = self->source_.read();
  if (!piece) {
    self->source_error_ = piece.error();
    archive_set_error(a, EIO, "%s", piece.error().message.c_str());
    return ARCHIVE_FATAL;
  }
  if (piece->empty()) {
    self->source_ended_ = true;
    return 0;
  }
  self->last_piece_ = *piece;
  self->delivered_ += static_cast<int64_t>(piece->size());
  *buffer = piece->data();
  return static_cast<la_ssize_t>(piece->size());
}

Error Extractor::read_failure() {
  if (source_error_) return *source_error_;
  const char* why = archive_error_string(reader_.get());
  return malformed(position(), why ? why : "unreadable");
}

Status Extractor::open() {
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_NO_AUTODIR |
              ARCHIVE_EXTRACT_NO_OVERWRITE;
  if (as_root_) flags |= ARCHIVE_EXTRACT_OWNER;
  if (!reader_ || !disk_ || archive_write_disk_set_options(disk_.get(), flags) != ARCHIVE_OK ||
      archive_read_support_format_tar(reader_.get()) != ARCHIVE_OK) {
    return make_error(ErrorCode::kInternal, "cannot start extracting into " + root_.string());
  }
  if (archive_read_open(reader_.get(), this, nullptr, read_in, nullptr) != ARCHIVE_OK) {
    if (!source_error_ && delivered_ == 0) return malformed(0, "the archive is empty");
    return read_failure();
  }
  return {};
}

Status Extractor::check_name(struct archive_entry* e, const std::string& raw,
                             const std::string& name) {
  const int64_t at = position();
  if (!dirs_.count(parent_of(name))) {
    return malformed(at, "'" + name + "' comes before its directory '" + parent_of(name) + "'");
  }
  struct stat st {};
  if (::lstat((root_ / name).c_str(), &st) == 0) {
    return malformed(at, "'" + raw + "' appears twice");
  }
  if (errno != ENOENT) return os_error(ErrorCode::kInternal, "cannot extract " + name, errno);
  const char* hardlink = archive_entry_hardlink(e);
  if (!hardlink) return {};
  Result<std::string> target = clean_name(hardlink, at);
  if (!target) return target.error();
  // Every directory on the way is an earlier directory entry, so nothing is followed here.
  if (target->empty() || !dirs_.count(parent_of(*target)) ||
      ::lstat((root_ / *target).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return malformed(at, "hard link '" + name + "' points to '" + hardlink +
                             "', which is not an earlier file of the archive");
  }
  archive_entry_copy_hardlink(e, (root_ / *target).c_str());
  return {};
}

Status Extractor::write_entry(struct archive_entry* e, const std::string& raw,
                              const std::string& name) {
  archive_entry_copy_pathname(e, (root_ / name).c_str());
  if (archive_write_header(disk_.get(), e) < ARCHIVE_WARN) {
    const char* why = archive_error_string(disk_.get());
    std::string what = "'" + raw + "': " + (why ? why : "refused");
    // libarchive's own refusals (a symlink on the way, "..") carry no system error.
    if (archive_errno(disk_.get()) > 0) {
      return make_error(ErrorCode::kInternal, "cannot extract " + what);
    }
    return malformed(position(), "libarchive refused " + what);
  }
  const void* bytes = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r;
  while ((r = archive_read_data_block(reader_.get(), &bytes, &size, &offset)) == ARCHIVE_OK) {
    if (archive_write_data_block(disk_.get(), bytes, size, offset) < ARCHIVE_WARN) {
      return make_error(ErrorCode::kInternal,
                        "cannot extract '" + raw + "': " + archive_error_string(disk_.get()));
    }
  }
  if (r != ARCHIVE_EOF) return read_failure();
  if (archive_write_finish_entry(disk_.get()) < ARCHIVE_WARN) {
    return make_error(ErrorCode::kInternal,
                      "cannot extract '" + raw + "': " + archive_error_string(disk_.get()));
  }
  return {};
}

Status Extractor::entry(struct archive_entry* e) {
  const char* pathname = archive_entry_pathname(e);
  if (!pathname) return malformed(position(), "an entry's name cannot be read");
  const std::string raw = pathname;
  Result<std::string> name = clean_name(raw, position());
  if (!name) return name.error();
  const mode_t type = archive_entry_filetype(e);
  const bool hardlink = archive_entry_hardlink(e) != nullptr;
  ++stats_.entries;
  if (name->empty()) {
    if (hardlink || type != AE_IFDIR) {
      return malformed(position(), "the root entry './' is not a directory");
    }
    if (root_meta_) return malformed(position(), "the root entry './' appears twice");
    root_meta_ = RootMeta{static_cast<mode_t>(archive_entry_perm(e)),
                          static_cast<uid_t>(archive_entry_uid(e)),
                          static_cast<gid_t>(archive_entry_gid(e)),
                          {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    return {};
  }
  if (!hardlink && (type == AE_IFCHR || type == AE_IFBLK)) {
    return {};  // Devices are not data (the archiver skips them too).
  }
  if (!hardlink && type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK && type != AE_IFIFO) {
    return malformed(position(), "entry '" + raw + "' has an unsupported type");
  }
  if (Status s = check_name(e, raw, *name); !s) return s;
  if (Status s = write_entry(e, raw, *name); !s) return s;
  if (type == AE_IFDIR && !hardlink) dirs_.insert(*name);
  if (type == AE_IFREG && !hardlink) stats_.file_bytes += archive_entry_size(e);
  return {};
}

// libarchive stops at the first zero block and takes a second one if it follows. A stream cut
// at an entry's boundary looks the same to it, except that it had to ask the source for more
// and got nothing; and what follows the marker is left unread.
Status Extractor::check_end() {
  if (source_ended_) {
    return malformed(position(), "the archive is truncated (no end-of-archive marker)");
  }
  const int64_t unread = delivered_ - position();
  if (unread > 0) {
    size_t tail = std::min(static_cast<size_t>(unread), last_piece_.size());
    if (!all_zero(last_piece_.substr(last_piece_.size() - tail))) {
      return malformed(position(), "data follows the end-of-archive marker");
    }
  }
  while (true) {
    Result<std::string_view> piece = source_.read();
    if (!piece) return piece.error();
    if (piece->empty()) return {};
    if (!all_zero(*piece)) return malformed(delivered_, "data follows the end-of-archive marker");
    delivered_ += static_cast<int64_t>(piece->size());
  }
}

Status Extractor::apply_root_meta() {
  if (!root_meta_) return {};
  if (as_root_) (void)::lchown(root_.c_str(), root_meta_->uid, root_meta_->gid);
  if (::chmod(root_.c_str(), root_meta_->mode & 07777) != 0) {
    return os_error(ErrorCode::kInternal, "cannot extract " + root_.string(), errno);
  }
  struct timespec times[2] = {root_meta_->mtime, root_meta_->mtime};
  (void)::utimensat(AT_FDCWD, root_.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return {};
}

Result<ArchiveStats> Extractor::run() {
  if (Status s = open(); !s) return s.error();
  while (true) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(reader_.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return read_failure();
    if (Status s = entry(e); !s) return s.error();
  }
  if (Status s = check_end(); !s) return s.error();
  // Closing applies the directories' modes and times, deepest first.
  if (archive_write_close(disk_.get()) != ARCHIVE_OK) {
    return make_error(ErrorCode::kInternal, "cannot finish extracting into " + root_.string() +
                                                ": " + archive_error_string(disk_.get()));
  }
  if (Status s = apply_root_meta(); !s) return s.error();
  return stats_;
}

}  // namespace

Result<ArchiveStats> extract_tree(ArchiveSource& source, const fs::path& to) {
  if (::mkdir(to.c_str(), 0700) != 0) {
    return os_error(ErrorCode::kInternal, "cannot create " + to.string(), errno);
  }
  // Without a symbolic link on its way, so that SECURE_SYMLINKS refuses only the stream's own.
  std::error_code ec;
  fs::path root = fs::canonical(to, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, "cannot resolve " + to.string() + ": " + ec.message());
  Result<ArchiveStats> stats = ArchiveStats{};
  {
    Extractor extractor(source, root);
    stats = extractor.run();
  }
  if (!stats) make_writable(root);
  return stats;
}

}  // namespace berth
