#include "counter/click_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace berth::counter {
namespace {

using nlohmann::json;

Error sys_error(const std::string& what, int err) {
  ErrorCode code =
      (err == EACCES || err == EPERM) ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable;
  return make_error(code, what + ": " + std::strerror(err));
}

// Closes the descriptor on early returns from open(); release() hands it over.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool get_int64(const json& object, const char* key, int64_t* out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

bool parse_click_line(std::string_view line, Click* click) {
  json value = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return false;
  return get_int64(value, "id", &click->id) && get_int64(value, "ts", &click->ts_ms) &&
         get_int64(value, "x", &click->x) && get_int64(value, "y", &click->y) && click->id > 0;
}

// Makes a new directory entry survive a power cut: fsync() the directory that holds it.
Status sync_directory(const std::filesystem::path& dir) {
  std::string name = dir.empty() ? "." : dir.string();
  int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("cannot open directory " + name + " to sync it", errno);
  FdGuard guard(fd);
  if (::fsync(fd) != 0) return sys_error("cannot fsync directory " + name, errno);
  return {};
}

// Creates `dir` (and missing parents) if needed, syncing each parent that gained an entry.
Status ensure_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path = fs::absolute(dir, ec).lexically_normal();
  if (ec) return make_error(ErrorCode::kInvalidArgument, "bad data directory '" + dir + "'");
  if (!path.has_filename()) path = path.parent_path();  // "/data/" -> "/data"
  std::vector<fs::path> missing;
  for (fs::path p = path; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.root_path()) break;
  }
  if (missing.empty()) {
    if (!fs::is_directory(path, ec)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "data directory " + dir + " exists but is not a directory");
    }
    return {};
  }
  fs::create_directories(path, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot create data directory " + dir + ": " + ec.message());
  }
  for (const fs::path& created : missing) {
    Status synced = sync_directory(created.parent_path());
    if (!synced) return synced;
  }
  return {};
}

// 0 on success, else errno.
int write_all_at(int fd, std::string_view data, size_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<size_t>(n);
  }
  return 0;
}

Result<std::string> read_all(int fd, size_t size, const std::string& path) {
  std::string contents(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, contents.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("cannot read " + path, errno);
    if (n == 0) break;  // the file shrank under us; decode what there is
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  return contents;
}

}  // namespace

std::string encode_click_line(const Click& click) {
  json line = {{"id", click.id}, {"ts", click.ts_ms}, {"x", click.x}, {"y", click.y}};
  return line.dump() + "\n";
}

Result<DecodedLog> decode_click_log(std::string_view contents) {
  DecodedLog out;
  size_t pos = 0;
  for (size_t line_number = 1; pos < contents.size(); ++line_number) {
    size_t newline = contents.find('\n', pos);
    if (newline == std::string_view::npos) {
      out.torn_bytes = contents.size() - pos;
      break;
    }
    Click click;
    bool parsed = parse_click_line(contents.substr(pos, newline - pos), &click);
    bool last = newline + 1 == contents.size();
    if (!parsed && last) {
      out.torn_bytes = contents.size() - pos;
      break;
    }
    if (!parsed) {
      return make_error(ErrorCode::kInvalidArgument,
                        "line " + std::to_string(line_number) + " (byte " + std::to_string(pos) +
                            ") is not a click {\"id\",\"ts\",\"x\",\"y\"} and is not the last "
                            "line, so it is damage rather than a torn write");
    }
    if (!out.clicks.empty() && click.id <= out.clicks.back().id) {
      return make_error(ErrorCode::kInvalidArgument,
                        "line " + std::to_string(line_number) + " has id " +
                            std::to_string(click.id) + " after id " +
                            std::to_string(out.clicks.back().id) + "; ids must increase");
    }
    out.clicks.push_back(click);
    pos = newline + 1;
    out.valid_bytes = pos;
  }
  return out;
}

Result<std::unique_ptr<ClickLog>> ClickLog::open(const std::string& data_dir,
                                                 ClickLogOptions options) {
  Status dir_ready = ensure_directory(data_dir);
  if (!dir_ready) return dir_ready.error();
  std::string path = (std::filesystem::path(data_dir) / kFileName).string();

  int raw_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool created = raw_fd >= 0;
  if (raw_fd < 0 && errno == EEXIST) raw_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (raw_fd < 0) return sys_error("cannot open " + path, errno);
  FdGuard fd(raw_fd);

  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(ErrorCode::kConflict,
                        path +
                            " is locked by another process (another berth-counter?); stop it "
                            "or use another --data-dir");
    }
    return sys_error("cannot lock " + path, errno);
  }
  if (created) {
    Status synced = sync_directory(std::filesystem::path(path).parent_path());
    if (!synced) return synced.error();
  }

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, path + " is not a regular file");
  }
  if (static_cast<size_t>(st.st_size) > options.max_file_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      path + " holds " + std::to_string(st.st_size) + " bytes, more than the " +
                          std::to_string(options.max_file_bytes) +
                          " berth-counter loads; move it away to start a new count");
  }
  auto contents = read_all(fd.get(), static_cast<size_t>(st.st_size), path);
  if (!contents) return contents.error();
  auto decoded = decode_click_log(*contents);
  if (!decoded) {
    return make_error(ErrorCode::kInvalidArgument,
                      path + ": " + decoded.error().message + "; repair or move the file");
  }
  if (decoded->torn_bytes > 0) {
    if (::ftruncate(fd.get(), static_cast<off_t>(decoded->valid_bytes)) != 0) {
      return sys_error("cannot truncate the torn last line of " + path, errno);
    }
    if (::fsync(fd.get()) != 0) return sys_error("cannot fsync " + path, errno);
  }
  return std::unique_ptr<ClickLog>(
      new ClickLog(fd.release(), std::move(path), options, std::move(*decoded)));
}

ClickLog::ClickLog(int fd, std::string path, ClickLogOptions options, DecodedLog decoded)
    : fd_(fd),
      path_(std::move(path)),
      options_(options),
      torn_bytes_dropped_(decoded.torn_bytes),
      end_offset_(decoded.valid_bytes),
      next_id_(decoded.clicks.empty() ? 1 : decoded.clicks.back().id + 1),
      clicks_(std::move(decoded.clicks)) {}

ClickLog::~ClickLog() { ::close(fd_); }

Result<Click> ClickLog::append(int64_t x, int64_t y, int64_t ts_ms) {
  std::lock_guard<std::mutex> lock(append_mu_);
  if (!failure_.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      failure_ + "; restart berth-counter so it reloads the log from disk");
  }
  if (size() >= options_.max_clicks) {
    return make_error(ErrorCode::kNotAllowed, path_ + " already holds the maximum of " +
                                                  std::to_string(options_.max_clicks) +
                                                  " clicks; move it away to start a new count");
  }
  Click click{next_id_, x, y, ts_ms};
  std::string line = encode_click_line(click);
  if (int err = write_all_at(fd_, line, end_offset_); err != 0) {
    // Cut off whatever part of the line landed, so the next append starts on a clean line.
    if (::ftruncate(fd_, static_cast<off_t>(end_offset_)) != 0) {
      failure_ = "cannot truncate " + path_ + " after a failed write: " + std::strerror(errno);
    }
    return sys_error("cannot write a click to " + path_, err);
  }
  if (::fsync(fd_) != 0) {
    // After a failed fsync the kernel may have dropped the dirty pages, so neither this line
    // nor the file's length can be trusted (the "fsyncgate" lesson).
    int err = errno;
    failure_ = std::string("fsync of ") + path_ + " failed: " + std::strerror(err);
    return sys_error("cannot fsync " + path_, err);
  }
  end_offset_ += line.size();
  ++next_id_;
  std::lock_guard<std::mutex> clicks_lock(clicks_mu_);
  clicks_.push_back(click);
  return click;
}

std::vector<Click> ClickLog::clicks() const {
  std::lock_guard<std::mutex> lock(clicks_mu_);
  return clicks_;
}

size_t ClickLog::size() const {
  std::lock_guard<std::mutex> lock(clicks_mu_);
  return clicks_.size();
}

}  // namespace berth::counter
