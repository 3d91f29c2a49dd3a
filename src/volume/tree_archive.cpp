#include "volume/tree_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "volume/os_error.h"
#include "volume/unique_fd.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 512;
constexpr int kMaxDepth = 256;
constexpr size_t kMaxNameBytes = 4096;

uint64_t padded(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

Error read_error(const fs::path& path, int err) {
  return os_error(ErrorCode::kInternal, "cannot archive " + path.string(), err);
}

Error write_error(const fs::path& path, int err) {
  return os_error(ErrorCode::kInternal, "cannot extract " + path.string(), err);
}

// ---- the header format (POSIX.1-2001 ustar; pax records for what does not fit) ----

// Whether `value` fits in a numeric field of `width` bytes: width - 1 octal digits and a NUL.
bool fits_octal(uint64_t value, size_t width) {
  unsigned bits = static_cast<unsigned>((width - 1) * 3);
  return bits >= 64 || value < (uint64_t{1} << bits);
}

void put_octal(char* field, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

void put_string(char* field, size_t width, std::string_view text) {
  std::memcpy(field, text.data(), std::min(text.size(), width));
}

// "<length> <key>=<value>\n", the length counting itself.
std::string pax_record(std::string_view key, std::string_view value) {
  std::string body = " " + std::string(key) + "=" + std::string(value) + "\n";
  size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) {
    length = std::to_string(length).size() + body.size();
  }
  return std::to_string(length) + body;
}

struct Header {
  std::string name;
  char type = '0';
  uint64_t mode = 0, uid = 0, gid = 0, size = 0;
  int64_t mtime = 0;
  std::string link;
};

void append_block(std::string* out, const Header& h) {
  char block[kBlock] = {};
  put_string(block, 100, h.name);
  put_octal(block + 100, 8, h.mode);
  put_octal(block + 108, 8, fits_octal(h.uid, 8) ? h.uid : 0);
  put_octal(block + 116, 8, fits_octal(h.gid, 8) ? h.gid : 0);
  put_octal(block + 124, 12, fits_octal(h.size, 12) ? h.size : 0);
  uint64_t mtime = h.mtime < 0 ? 0 : static_cast<uint64_t>(h.mtime);
  put_octal(block + 136, 12, fits_octal(mtime, 12) ? mtime : 0);
  std::memset(block + 148, ' ', 8);
  block[156] = h.type;
  put_string(block + 157, 100, h.link);
  std::memcpy(block + 257, "ustar", 6);
  std::memcpy(block + 263, "00", 2);
  unsigned sum = 0;
  for (unsigned char c : block) sum += c;
  put_octal(block + 148, 7, sum);
  block[155] = ' ';
  out->append(block, kBlock);
}

// The pax records an entry needs: what its ustar fields cannot hold.
std::string pax_records(const Header& h) {
  std::string pax;
  if (h.name.size() > 100) pax += pax_record("path", h.name);
  if (h.link.size() > 100) pax += pax_record("linkpath", h.link);
  if (!fits_octal(h.uid, 8)) pax += pax_record("uid", std::to_string(h.uid));
  if (!fits_octal(h.gid, 8)) pax += pax_record("gid", std::to_string(h.gid));
  if (!fits_octal(h.size, 12)) pax += pax_record("size", std::to_string(h.size));
  if (h.mtime > 0 && !fits_octal(static_cast<uint64_t>(h.mtime), 12)) {
    pax += pax_record("mtime", std::to_string(h.mtime));
  }
  return pax;
}

// Bytes the headers of an entry take (its pax header included), contents excluded.
uint64_t header_bytes(const Header& h) {
  std::string pax = pax_records(h);
  return kBlock + (pax.empty() ? 0 : kBlock + padded(pax.size()));
}

void append_headers(std::string* out, const Header& h) {
  std::string pax = pax_records(h);
  if (!pax.empty()) {
    Header x;
    x.name = "PaxHeader";
    x.type = 'x';
    x.mode = 0644;
    x.size = pax.size();
    x.mtime = h.mtime;
    append_block(out, x);
    out->append(pax);
    out->append(padded(pax.size()) - pax.size(), '\0');
  }
  append_block(out, h);
}

// ---- archiving ----

struct Entry {
  fs::path path;
  Header header;
};

Header header_of(const std::string& name, const struct stat& st, char type) {
  Header h;
  h.name = name;
  h.type = type;
  h.mode = st.st_mode & 07777;
  h.uid = st.st_uid;
  h.gid = st.st_gid;
  h.mtime = st.st_mtim.tv_sec;
  return h;
}

// Every entry of the tree, each directory before its contents, children in name order. Hard
// links after the first become links to it.
Status collect(const fs::path& path, const std::string& name, int depth,
               std::map<std::pair<dev_t, ino_t>, std::string>* first_names,
               std::vector<Entry>* out) {
  if (depth > kMaxDepth) {
    return make_error(ErrorCode::kInvalidArgument, "cannot archive " + path.string() +
                                                       ": directories nested deeper than " +
                                                       std::to_string(kMaxDepth) + " levels");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return read_error(path, errno);
  if (S_ISDIR(st.st_mode)) {
    out->push_back({path, header_of(name.empty() ? "./" : name + "/", st, '5')});
    std::error_code ec;
    std::vector<std::string> children;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      children.push_back(it->path().filename().string());
    }
    if (ec) {
      return make_error(ErrorCode::kInternal, "cannot list " + path.string() + ": " + ec.message());
    }
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
      std::string child_name = name.empty() ? child : name + "/" + child;
      if (Status s = collect(path / child, child_name, depth + 1, first_names, out); !s) return s;
    }
  } else if (S_ISREG(st.st_mode)) {
    if (st.st_nlink > 1) {
      auto [it, first] = first_names->try_emplace({st.st_dev, st.st_ino}, name);
      if (!first) {
        Header h = header_of(name, st, '1');
        h.link = it->second;
        out->push_back({path, h});
        return {};
      }
    }
    Header h = header_of(name, st, '0');
    h.size = static_cast<uint64_t>(st.st_size);
    out->push_back({path, h});
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return read_error(path, errno);
    target.resize(static_cast<size_t>(n));
    Header h = header_of(name, st, '2');
    h.link = target;
    out->push_back({path, h});
  } else if (S_ISFIFO(st.st_mode)) {
    out->push_back({path, header_of(name, st, '6')});
  }
  // Sockets and devices are runtime artefacts, not data.
  return {};
}

Status append_contents(std::string* out, const Entry& entry) {
  UniqueFd fd(::open(entry.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return read_error(entry.path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return read_error(entry.path, errno);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != entry.header.size) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot archive " + entry.path.string() +
                          ": it changed while the archive was made; try again once nothing "
                          "writes to the dataset");
  }
  uint64_t left = entry.header.size;
  size_t start = out->size();
  out->resize(start + left);
  char* at = out->data() + start;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), at, static_cast<size_t>(std::min<uint64_t>(left, 1 << 20)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return read_error(entry.path, errno);
    if (n == 0) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot archive " + entry.path.string() +
                            ": it shrank while the archive was made; try again once nothing "
                            "writes to the dataset");
    }
    at += n;
    left -= static_cast<uint64_t>(n);
  }
  out->append(padded(entry.header.size) - entry.header.size, '\0');
  return {};
}

// ---- extracting ----

struct Pending {
  std::optional<std::string> path, link;
  std::optional<uint64_t> size, uid, gid;
  std::optional<int64_t> mtime;
};

// Whether an entry of `type` is a pax ('x', 'g') or GNU ('L', 'K') record about the next entry.
bool is_record(char type) { return type == 'x' || type == 'g' || type == 'L' || type == 'K'; }

Error malformed(uint64_t offset, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument,
                    "malformed archive at byte " + std::to_string(offset) + ": " + what);
}

std::string field_string(const char* field, size_t width) {
  return std::string(field, strnlen(field, width));
}

std::optional<uint64_t> parse_octal(const char* field, size_t width) {
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  uint64_t value = 0;
  bool any = false;
  for (; i < width && field[i] != '\0' && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7' || value >> 61) return std::nullopt;
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') return std::nullopt;
  }
  if (!any) return uint64_t{0};
  return value;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

Status parse_pax(std::string_view records, uint64_t offset, Pending* pending) {
  while (!records.empty()) {
    size_t space = records.find(' ');
    auto length =
        space == std::string_view::npos ? std::nullopt : parse_decimal(records.substr(0, space));
    if (!length || *length <= space + 1 || *length > records.size() ||
        records[*length - 1] != '\n') {
      return malformed(offset, "a pax record is not '<length> <key>=<value>\\n'");
    }
    std::string_view record = records.substr(space + 1, *length - space - 2);
    records.remove_prefix(*length);
    size_t eq = record.find('=');
    if (eq == std::string_view::npos) return malformed(offset, "a pax record has no '='");
    std::string_view key = record.substr(0, eq), value = record.substr(eq + 1);
    if (key == "path") {
      pending->path = std::string(value);
    } else if (key == "linkpath") {
      pending->link = std::string(value);
    } else if (key == "size" || key == "uid" || key == "gid" || key == "mtime") {
      // Times may carry a fraction of a second; whole seconds are kept.
      auto number = parse_decimal(key == "mtime" ? value.substr(0, value.find('.')) : value);
      if (!number) {
        return malformed(offset, "pax " + std::string(key) + " '" + std::string(value) +
                                     "' is not a whole number");
      }
      if (key == "size") pending->size = number;
      if (key == "uid") pending->uid = number;
      if (key == "gid") pending->gid = number;
      if (key == "mtime") pending->mtime = static_cast<int64_t>(*number);
    }
  }
  return {};
}

// The entry's name as a relative path inside the tree ("" for the root), or an error when it
// could leave the tree.
Result<std::string> clean_name(const std::string& raw, uint64_t offset) {
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

struct DirMeta {
  fs::path path;
  Header header;
};

void apply_owner_and_time(const fs::path& path, const Header& h, bool as_root) {
  if (as_root) {
    (void)::lchown(path.c_str(), static_cast<uid_t>(h.uid), static_cast<gid_t>(h.gid));
  }
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(h.mtime);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  (void)::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

Status write_file(UniqueFd fd, const fs::path& path, const Header& h, std::string_view contents,
                  bool as_root) {
  while (!contents.empty()) {
    ssize_t n = ::write(fd.get(), contents.data(), std::min<size_t>(contents.size(), 1 << 20));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return write_error(path, errno);
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (as_root) (void)::fchown(fd.get(), static_cast<uid_t>(h.uid), static_cast<gid_t>(h.gid));
  // After the owner: chown clears the set-user-id and set-group-id bits.
  if (::fchmod(fd.get(), static_cast<mode_t>(h.mode & 07777)) != 0) {
    return write_error(path, errno);
  }
  fd.reset();
  apply_owner_and_time(path, h, /*as_root=*/false);
  return {};
}

class Extractor {
 public:
  explicit Extractor(fs::path root) : root_(std::move(root)), as_root_(::geteuid() == 0) {
    dirs_.insert("");
  }

  Status entry(const Header& h, const std::string& name, std::string_view contents,
               uint64_t offset) {
    ++stats_.entries;
    if (name.empty()) {
      if (h.type != '5') return malformed(offset, "the root entry './' is not a directory");
      root_meta_ = h;
      return {};
    }
    size_t slash = name.rfind('/');
    std::string parent = slash == std::string::npos ? "" : name.substr(0, slash);
    if (!dirs_.count(parent)) {
      return malformed(offset, "'" + name + "' comes before its directory '" + parent + "'");
    }
    fs::path path = root_ / name;
    switch (h.type) {
      case '5':
        return make_directory(path, h, name, offset);
      case '0':
      case '\0':
      case '7':
        return make_file(path, h, name, contents, offset);
      case '1':
        return make_hard_link(path, h, name, offset);
      case '2':
        return make_symlink(path, h, name, offset);
      case '6':
        return make_fifo(path, h, name, offset);
      case '3':
      case '4':
        return {};  // Devices are not data (the archiver skips them too).
      default:
        return malformed(offset, "entry '" + name + "' has the unsupported type '" +
                                     std::string(1, h.type) + "'");
    }
  }

  // Directory modes and times last, deepest first, so that filling them was possible and
  // their times are not disturbed by it.
  Status finish() {
    for (auto it = dir_meta_.rbegin(); it != dir_meta_.rend(); ++it) {
      if (Status s = apply_metadata(it->path, it->header); !s) return s;
    }
    if (root_meta_) return apply_metadata(root_, *root_meta_);
    return {};
  }

  const ArchiveStats& stats() const { return stats_; }

 private:
  Status make_directory(const fs::path& path, const Header& h, const std::string& name,
                        uint64_t offset) {
    if (::mkdir(path.c_str(), 0700) != 0) return exists_or(path, name, offset, errno);
    dirs_.insert(name);
    dir_meta_.push_back({path, h});
    return {};
  }

  Status make_file(const fs::path& path, const Header& h, const std::string& name,
                   std::string_view contents, uint64_t offset) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return exists_or(path, name, offset, errno);
    if (Status s = write_file(std::move(fd), path, h, contents, as_root_); !s) return s;
    files_.insert(name);
    stats_.file_bytes += contents.size();
    return {};
  }

  Status make_hard_link(const fs::path& path, const Header& h, const std::string& name,
                        uint64_t offset) {
    auto target = clean_name(h.link, offset);
    if (!target) return target.error();
    if (!files_.count(*target)) {
      return malformed(offset, "hard link '" + name + "' points to '" + h.link +
                                   "', which is not an earlier file of the archive");
    }
    if (::link((root_ / *target).c_str(), path.c_str()) != 0) {
      return exists_or(path, name, offset, errno);
    }
    return {};
  }

  Status make_symlink(const fs::path& path, const Header& h, const std::string& name,
                      uint64_t offset) {
    if (::symlink(h.link.c_str(), path.c_str()) != 0) {
      return exists_or(path, name, offset, errno);
    }
    apply_owner_and_time(path, h, as_root_);
    return {};
  }

  Status make_fifo(const fs::path& path, const Header& h, const std::string& name,
                   uint64_t offset) {
    if (::mkfifo(path.c_str(), 0600) != 0) return exists_or(path, name, offset, errno);
    return apply_metadata(path, h);
  }

  // Owner (as root), mode and times of a directory or a FIFO, as the header says.
  Status apply_metadata(const fs::path& path, const Header& h) {
    if (as_root_) {
      (void)::lchown(path.c_str(), static_cast<uid_t>(h.uid), static_cast<gid_t>(h.gid));
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(h.mode & 07777)) != 0) {
      return write_error(path, errno);
    }
    apply_owner_and_time(path, h, false);
    return {};
  }

  static Error exists_or(const fs::path& path, const std::string& name, uint64_t offset, int err) {
    if (err == EEXIST) return malformed(offset, "'" + name + "' appears twice");
    return write_error(path, err);
  }

  fs::path root_;
  bool as_root_;
  std::set<std::string> dirs_, files_;
  std::vector<DirMeta> dir_meta_;
  std::optional<Header> root_meta_;
  ArchiveStats stats_;
};

bool is_zero_block(std::string_view block) {
  return std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; });
}

bool checksum_matches(const char* block) {
  auto stored = parse_octal(block + 148, 8);
  if (!stored) return false;
  unsigned sum = 0;
  int signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    char c = (i >= 148 && i < 156) ? ' ' : block[i];
    sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return *stored == sum || static_cast<int64_t>(*stored) == signed_sum;
}

// The ustar header in `block` at `pos`, with what earlier pax and GNU records said of its entry
// in `pending`. Its name and link are left to the caller.
Result<Header> parse_header(const char* block, const Pending& pending, uint64_t pos) {
  if (!checksum_matches(block)) return malformed(pos, "header checksum mismatch");
  if (std::memcmp(block + 257, "ustar", 5) != 0) {
    return malformed(pos, "not a ustar header (no 'ustar' magic)");
  }
  Header h;
  h.type = block[156];
  auto mode = parse_octal(block + 100, 8), uid = parse_octal(block + 108, 8),
       gid = parse_octal(block + 116, 8), size = parse_octal(block + 124, 12),
       mtime = parse_octal(block + 136, 12);
  if (!mode || !uid || !gid || !size || !mtime) {
    return malformed(pos, "a numeric header field is not octal");
  }
  // Pax and GNU records describe the next real entry, not the headers that carry them.
  bool meta = is_record(h.type);
  h.mode = *mode;
  h.uid = meta ? *uid : pending.uid.value_or(*uid);
  h.gid = meta ? *gid : pending.gid.value_or(*gid);
  h.size = meta ? *size : pending.size.value_or(*size);
  h.mtime =
      meta ? static_cast<int64_t>(*mtime) : pending.mtime.value_or(static_cast<int64_t>(*mtime));
  return h;
}

// Keeps in `pending` what a pax ('x') or GNU ('L', 'K') record says of the next entry.
Status read_record(char type, std::string_view contents, uint64_t offset, Pending* pending) {
  switch (type) {
    case 'x':
      return parse_pax(contents, offset, pending);
    case 'L':
      pending->path = field_string(contents.data(), contents.size());
      return {};
    case 'K':
      pending->link = field_string(contents.data(), contents.size());
      return {};
    default:
      return {};  // Global pax records ('g'): nothing berth needs.
  }
}

// The name of the entry in `block` as the archive has it: from a record, else the header's
// prefix and name.
std::string raw_name(const char* block, const Pending& pending) {
  if (pending.path) return *pending.path;
  std::string prefix = field_string(block + 345, 155);
  std::string raw = field_string(block, 100);
  if (!prefix.empty()) raw = prefix + "/" + raw;
  return raw;
}

// Extracts the real entry `h` named `raw` at `offset`.
Status extract_entry(Extractor& extractor, const Header& h, const std::string& raw,
                     std::string_view contents, uint64_t offset) {
  auto name = clean_name(raw, offset);
  if (!name) return name.error();
  bool regular = h.type == '0' || h.type == '\0' || h.type == '7';
  if (!regular && h.size != 0 && h.type != '1' && h.type != '2') {
    return malformed(offset,
                     "entry '" + raw + "' of type '" + std::string(1, h.type) + "' has contents");
  }
  return extractor.entry(h, *name, regular ? contents : std::string_view(), offset);
}

}  // namespace

Result<std::string> archive_tree(const fs::path& dir, uint64_t max_bytes, ArchiveStats* stats) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    return make_error(ErrorCode::kNotFound,
                      "cannot archive " + dir.string() + ": it is not a directory");
  }
  std::vector<Entry> entries;
  std::map<std::pair<dev_t, ino_t>, std::string> first_names;
  if (Status s = collect(dir, "", 0, &first_names, &entries); !s) return s.error();
  uint64_t total = 2 * kBlock;
  for (const auto& e : entries) total += header_bytes(e.header) + padded(e.header.size);
  if (total > max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the archive of " + dir.string() + " would take " + std::to_string(total) +
                          " bytes, more than the limit of " + std::to_string(max_bytes) +
                          " bytes; move the data another way (e.g. a shared dataset)");
  }
  std::string out;
  out.reserve(total);
  ArchiveStats counted;
  for (const auto& e : entries) {
    append_headers(&out, e.header);
    if (e.header.type == '0') {
      if (Status s = append_contents(&out, e); !s) return s.error();
      counted.file_bytes += e.header.size;
    }
    ++counted.entries;
  }
  out.append(2 * kBlock, '\0');
  if (stats) *stats = counted;
  return out;
}

Result<ArchiveStats> extract_tree(std::string_view tar, const fs::path& to) {
  if (::mkdir(to.c_str(), 0700) != 0) {
    return os_error(ErrorCode::kInternal, "cannot create " + to.string(), errno);
  }
  Extractor extractor(to);
  Pending pending;
  uint64_t pos = 0;
  while (true) {
    if (tar.size() - pos < kBlock) {
      return malformed(pos, "the archive is truncated (no end-of-archive marker)");
    }
    const char* block = tar.data() + pos;
    if (is_zero_block(tar.substr(pos, kBlock))) {
      if (!is_zero_block(tar.substr(pos))) {
        return malformed(pos, "data follows the end-of-archive marker");
      }
      break;
    }
    Result<Header> h = parse_header(block, pending, pos);
    if (!h) return h.error();
    uint64_t body = pos + kBlock;
    if (h->size > tar.size() - body || padded(h->size) > tar.size() - body) {
      return malformed(pos, "the archive is truncated (an entry's contents are cut off)");
    }
    std::string_view contents = tar.substr(body, h->size);
    uint64_t offset = pos;
    pos = body + padded(h->size);
    if (is_record(h->type)) {
      if (Status s = read_record(h->type, contents, offset, &pending); !s) return s.error();
      continue;
    }
    std::string raw = raw_name(block, pending);
    h->link = pending.link.value_or(field_string(block + 157, 100));
    pending = Pending{};
    if (Status s = extract_entry(extractor, *h, raw, contents, offset); !s) return s.error();
  }
  if (Status s = extractor.finish(); !s) return s.error();
  return extractor.stats();
}

}  // namespace berth
