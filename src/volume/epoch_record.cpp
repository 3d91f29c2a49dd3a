#include "volume/epoch_record.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <thread>

#include "json/bounded.h"
#include "volume/dataset_id.h"
#include "volume/os_error.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxRecordBytes = 64 * 1024;
constexpr int kMaxLockReopens = 100;

Result<std::string> read_small_file(const fs::path& path, bool* missing) {
  *missing = false;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      *missing = true;
      return std::string();
    }
    return os_error(ErrorCode::kInternal, "cannot open epoch record " + path.string(), errno);
  }
  std::string text;
  char buf[4096];
  while (text.size() <= kMaxRecordBytes) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error(ErrorCode::kInternal, "cannot read " + path.string(), errno);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
  return make_error(ErrorCode::kInternal, "epoch record " + path.string() + " is larger than " +
                                              std::to_string(kMaxRecordBytes) +
                                              " bytes; it is not one of berth's records");
}

Status write_all(int fd, const std::string& text, const fs::path& path) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error(ErrorCode::kInternal, "cannot write " + path.string(), errno);
    done += static_cast<size_t>(n);
  }
  return {};
}

Status fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    return os_error(ErrorCode::kInternal, "cannot fsync directory " + dir.string(), errno);
  }
  return {};
}

}  // namespace

void RecordDir::Lock::unlink_file() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

RecordDir::RecordDir(fs::path dir, bool create_parent, std::chrono::milliseconds lock_timeout)
    : dir_(std::move(dir)), create_parent_(create_parent), lock_timeout_(lock_timeout) {}

fs::path RecordDir::record_path(const std::string& dataset_id) const {
  return dir_ / (dataset_id + ".json");
}

Status RecordDir::ensure_dir() const {
  std::error_code ec;
  if (create_parent_) fs::create_directories(dir_.parent_path(), ec);
  if (::mkdir(dir_.c_str(), 0755) == 0 || errno == EEXIST) return {};
  if (errno == ENOENT) {
    return make_error(ErrorCode::kUnavailable,
                      "pool directory " + dir_.parent_path().string() +
                          " does not exist; mount the shared filesystem there (or create it)");
  }
  return os_error(ErrorCode::kInternal, "cannot create " + dir_.string(), errno);
}

Result<RecordDir::Lock> RecordDir::lock(const std::string& dataset_id) const {
  if (Status s = ensure_dir(); !s) return s.error();
  fs::path path = dir_ / (dataset_id + ".lock");
  auto deadline = std::chrono::steady_clock::now() + lock_timeout_;
  auto pause = std::chrono::microseconds(200);
  for (int reopen = 0; reopen < kMaxLockReopens; ++reopen) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) return os_error(ErrorCode::kInternal, "cannot open " + path.string(), errno);
    // Poll rather than block so that a lock held forever (a hung peer) is a bounded wait.
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        return os_error(ErrorCode::kInternal, "cannot lock " + path.string(), errno);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return make_error(ErrorCode::kUnavailable,
                          "dataset " + dataset_id + " is still locked by another operation after " +
                              std::to_string(lock_timeout_.count()) + " ms (lock file " +
                              path.string() + "); retry later");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(10000));
    }
    // A destroy may have unlinked the file between our open and our flock: then we hold a
    // lock nobody else will ever look at, so start over with the file now at the path.
    struct stat held {
    }, current{};
    if (::fstat(fd.get(), &held) != 0) {
      return os_error(ErrorCode::kInternal, "cannot stat " + path.string(), errno);
    }
    if (::stat(path.c_str(), &current) == 0 && current.st_ino == held.st_ino &&
        current.st_dev == held.st_dev) {
      return Lock(std::move(fd), path);
    }
  }
  return make_error(ErrorCode::kUnavailable,
                    "lock file " + path.string() + " keeps being replaced; retry later");
}

Result<std::optional<EpochRecord>> RecordDir::read(const std::string& dataset_id) const {
  fs::path path = record_path(dataset_id);
  bool missing = false;
  Result<std::string> text = read_small_file(path, &missing);
  if (!text) return text.error();
  if (missing) return std::optional<EpochRecord>();
  Result<EpochRecord> record = decode_record(dataset_id, *text, path.string());
  if (!record) return record.error();
  return std::optional<EpochRecord>(*record);
}

Status RecordDir::write(const std::string& dataset_id, const EpochRecord& record) const {
  if (Status s = ensure_dir(); !s) return s;
  fs::path path = record_path(dataset_id);
  fs::path temp = dir_ / (dataset_id + ".json.tmp");
  {
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return os_error(ErrorCode::kInternal, "cannot create " + temp.string(), errno);
    if (Status s = write_all(fd.get(), encode_record(dataset_id, record), temp); !s) return s;
    if (::fsync(fd.get()) != 0) {
      return os_error(ErrorCode::kInternal, "cannot fsync " + temp.string(), errno);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return os_error(ErrorCode::kInternal, "cannot rename " + temp.string() + " to " + path.string(),
                    errno);
  }
  return fsync_dir(dir_);
}

Status RecordDir::remove(const std::string& dataset_id) const {
  fs::path path = record_path(dataset_id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return os_error(ErrorCode::kInternal, "cannot remove " + path.string(), errno);
  }
  return fsync_dir(dir_);
}

Result<std::vector<VolumeInfo>> RecordDir::list() const {
  std::vector<VolumeInfo> out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    if (!create_parent_ && !fs::is_directory(dir_.parent_path())) {
      return make_error(ErrorCode::kUnavailable,
                        "pool directory " + dir_.parent_path().string() + " does not exist");
    }
    return out;  // No dataset was ever created here.
  }
  if (ec)
    return make_error(ErrorCode::kInternal, "cannot list " + dir_.string() + ": " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& entry = it->path();
    if (entry.extension() != ".json") continue;
    std::string dataset_id = entry.stem().string();
    if (!validate_dataset_id(dataset_id)) continue;  // Not ours.
    Result<std::optional<EpochRecord>> record = read(dataset_id);
    if (!record) return record.error();
    if (*record) out.push_back(to_volume_info(dataset_id, **record));  // Unless just destroyed.
  }
  if (ec)
    return make_error(ErrorCode::kInternal, "cannot list " + dir_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const VolumeInfo& a, const VolumeInfo& b) { return a.dataset_id < b.dataset_id; });
  return out;
}

std::string encode_record(const std::string& dataset_id, const EpochRecord& record) {
  nlohmann::json j = {{"dataset_id", dataset_id},
                      {"size_bytes", record.size_bytes},
                      {"epoch", record.epoch},
                      {"attached_to", nullptr}};
  if (record.holder) j["attached_to"] = *record.holder;
  return j.dump() + "\n";
}

Result<EpochRecord> decode_record(const std::string& dataset_id, const std::string& text,
                                  const std::string& source) {
  auto corrupt = [&](const std::string& why) {
    return make_error(ErrorCode::kInternal, "epoch record " + source + " is corrupt (" + why +
                                                "); restore it from a backup or move it aside");
  };
  Result<nlohmann::json> parsed = json::parse(text);
  if (!parsed.ok()) return corrupt(parsed.error().message);
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return corrupt("not a JSON object");
  auto id = j.find("dataset_id");
  auto size = j.find("size_bytes");
  auto epoch = j.find("epoch");
  auto holder = j.find("attached_to");
  if (id == j.end() || !id->is_string() || id->get<std::string>() != dataset_id) {
    return corrupt("dataset_id is not " + dataset_id);
  }
  if (size == j.end() || !size->is_number_unsigned()) return corrupt("bad size_bytes");
  if (epoch == j.end() || !epoch->is_number_unsigned()) return corrupt("bad epoch");
  if (holder == j.end() || !(holder->is_null() || holder->is_string())) {
    return corrupt("bad attached_to");
  }
  EpochRecord record;
  record.size_bytes = size->get<uint64_t>();
  record.epoch = epoch->get<uint64_t>();
  if (holder->is_string()) record.holder = holder->get<std::string>();
  return record;
}

}  // namespace berth
